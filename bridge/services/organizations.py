"""Organizations of the directory: departments, schools, colleges, kindergartens, support."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bridge.services.audit import AuditContext, record
from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.identifiers import normalized_inn, normalized_ogrn
from bridge.services.roles import ORGANIZATION_KIND_TITLES, OrganizationKind
from bridge.storage.enums import RegistryStatus
from bridge.storage.models import Organization

# The columns' lengths: a longer value is refused with a message, not by the database.
MAX_NAME_LENGTH = 500
MAX_DISTRICT_LENGTH = 200
_DEPARTMENT_KINDS = frozenset({OrganizationKind.EDUCATION_DEPARTMENT, OrganizationKind.PRESCHOOL_DEPARTMENT})


@dataclass(frozen=True)
class NewOrganization:
    name: str
    kind: str
    district: str | None = None
    inn: str | None = None
    ogrn: str | None = None
    parent_id: int | None = None


def get_organization(db: Session, organization_id: int) -> Organization:
    organization = db.get(Organization, organization_id)
    if organization is None:
        raise NotFound(
            "unknown_organization",
            f"Организация с номером {organization_id} не найдена.",
            organization_id=organization_id,
        )
    return organization


def organization_kind(value: str) -> OrganizationKind:
    try:
        return OrganizationKind(value)
    except ValueError:
        kinds = ", ".join(kind.value for kind in OrganizationKind)
        raise InvalidInput(
            "unknown_organization_kind", f"Неизвестный вид организации «{value}». Допустимые: {kinds}."
        ) from None


def checked_organization(db: Session, new: NewOrganization, *, editing: int | None = None) -> Organization:
    """The values of `new` checked and normalized, as an unsaved Organization (`editing`: its own id)."""
    name = " ".join(new.name.split())
    if not name:
        raise InvalidInput("organization_name_required", "Укажите название организации.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput("organization_name_too_long", f"Название длиннее {MAX_NAME_LENGTH} знаков.")
    kind = organization_kind(new.kind)
    inn = normalized_inn(new.inn) if new.inn else None
    ogrn = normalized_ogrn(new.ogrn) if new.ogrn else None
    others = Organization.id != editing if editing is not None else Organization.id.is_not(None)
    if inn and db.scalar(select(Organization.id).where(Organization.inn == inn, others)) is not None:
        raise Conflict("duplicate_inn", f"Организация с ИНН {inn} уже есть в справочнике.")
    if ogrn and db.scalar(select(Organization.id).where(Organization.ogrn == ogrn, others)) is not None:
        raise Conflict("duplicate_ogrn", f"Организация с ОГРН {ogrn} уже есть в справочнике.")
    district = " ".join(new.district.split()) if new.district else None
    if district and len(district) > MAX_DISTRICT_LENGTH:
        raise InvalidInput("district_too_long", f"Район длиннее {MAX_DISTRICT_LENGTH} знаков.")
    if new.parent_id is not None:
        if new.parent_id == editing:
            raise InvalidInput("invalid_parent", "Организация не может быть подчинена сама себе.")
        parent = get_organization(db, new.parent_id)
        if parent.kind not in _DEPARTMENT_KINDS:
            raise InvalidInput(
                "invalid_parent",
                f"Вышестоящей может быть только управление образованием, а «{parent.name}» — "
                f"{ORGANIZATION_KIND_TITLES[OrganizationKind(parent.kind)].lower()}.",
            )
        district = district or parent.district
    return Organization(name=name, kind=kind.value, district=district, inn=inn, ogrn=ogrn, parent_id=new.parent_id)


def create_organization(db: Session, context: AuditContext, new: NewOrganization) -> Organization:
    organization = checked_organization(db, new)
    db.add(organization)
    db.flush()
    record(
        db, context, "organization.created", "success", organization_id=organization.id,
        kind=organization.kind, parent_id=new.parent_id,
    )
    return organization


def edit_organization(
    db: Session, context: AuditContext, organization_id: int, new: NewOrganization, registry_status: RegistryStatus
) -> Organization:
    """New values for every field; the audit record names the fields that changed (not their values)."""
    organization = get_organization(db, organization_id)
    checked = checked_organization(db, new, editing=organization.id)
    if checked.kind != organization.kind and db.scalar(
        select(Organization.id).where(Organization.parent_id == organization.id).limit(1)
    ) is not None and checked.kind not in _DEPARTMENT_KINDS:
        raise InvalidInput(
            "organization_has_subordinates", "У организации есть подчинённые: она должна остаться управлением."
        )
    changed = []
    for field in ("name", "kind", "district", "inn", "ogrn", "parent_id"):
        if getattr(checked, field) != getattr(organization, field):
            setattr(organization, field, getattr(checked, field))
            changed.append(field)
    if registry_status != organization.registry_status:
        organization.registry_status = registry_status
        changed.append("registry_status")
    db.flush()
    record(
        db, context, "organization.edited", "success", organization_id=organization.id, changed=changed,
    )
    return organization


def search_organizations(db: Session, query: str, *, limit: int) -> list[Organization]:
    """Support's registry search: words of the name, an ИНН or ОГРН, or a number; excluded ones too."""
    query = " ".join(query.split())
    if not query:
        return list(db.scalars(select(Organization).order_by(Organization.name, Organization.id).limit(limit)))
    conditions = [
        and_(*(or_(*(Organization.name.contains(spelling, autoescape=True) for spelling in _spellings(word)))
               for word in query.split()[:6])),
        Organization.inn == query, Organization.ogrn == query,
    ]
    if query.isdigit() and len(query) < 10:
        conditions.append(Organization.id == int(query))
    found = select(Organization).where(or_(*conditions)).order_by(Organization.name, Organization.id)
    return list(db.scalars(found.limit(limit)))


def list_organizations(
    db: Session, *, parent_id: int | None = None, district: str | None = None
) -> list[Organization]:
    query = select(Organization).order_by(Organization.name, Organization.id)
    if parent_id is not None:
        query = query.where(Organization.parent_id == parent_id)
    if district is not None:
        query = query.where(Organization.district == district)
    return list(db.scalars(query))


# What the public registration form lists at most for one search.
SEARCH_LIMIT = 20


def _spellings(word: str) -> set[str]:
    # SQLite folds case for ASCII only: the ways a Russian word is usually typed, matched as they are.
    return {word, word.lower(), word.upper(), word.capitalize()}


def search_registry(db: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[Organization]:
    """Organizations of the registry a person can ask an account in, by ИНН or by words of the name.

    Every word of `query` must occur in the name; a ten- or twelve-digit query is an ИНН as well.
    Excluded organizations and technical support are never listed.
    """
    words = [word for word in query.split() if len(word) >= 2 or word.isdigit()][:6]
    if not words:
        return []
    by_name = and_(
        *(or_(*(Organization.name.contains(spelling, autoescape=True) for spelling in _spellings(word)))
          for word in words)
    )
    digits = "".join(query.split())
    matches = or_(by_name, Organization.inn == digits) if digits.isdigit() and len(digits) in (10, 12) else by_name
    return list(
        db.scalars(
            select(Organization)
            .where(
                matches,
                Organization.registry_status == RegistryStatus.ACTIVE,
                Organization.kind != OrganizationKind.SUPPORT,
            )
            .order_by(Organization.name, Organization.id)
            .limit(limit)
        )
    )
