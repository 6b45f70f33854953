"""The organizations of the directory: technical support adds, edits and imports them (its pages and
`bridge org ...` alike); anyone acting may list them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_support, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.services import audit, organization_import, organizations
from bridge.services.organization_import import ImportedRow, RowOutcome
from bridge.services.organizations import NewOrganization
from bridge.services.roles import ORGANIZATION_KIND_TITLES, OrganizationKind
from bridge.storage.enums import RegistryStatus
from bridge.storage.models import Organization

__all__ = [
    "ImportedRow",
    "NewOrganization",
    "OrganizationImport",
    "OrganizationView",
    "RegistryStatus",
    "RowOutcome",
    "create_organization",
    "edit_organization",
    "import_organizations",
    "list_organizations",
    "require_registry_keeper",
    "search_registry",
    "show_organization",
]

SUPPORT_ONLY = "Реестр организаций ведёт техническая поддержка."
# One page of support's registry search.
REGISTRY_PAGE = 50


@dataclass(frozen=True)
class OrganizationView:
    id: int
    name: str
    kind: OrganizationKind
    district: str | None
    inn: str | None
    ogrn: str | None
    # The education department above it.
    parent_id: int | None
    registry_status: RegistryStatus

    @property
    def kind_title(self) -> str:
        return ORGANIZATION_KIND_TITLES[self.kind]

    @property
    def in_registry(self) -> bool:
        return self.registry_status == RegistryStatus.ACTIVE


def _view(organization: Organization) -> OrganizationView:
    return OrganizationView(
        id=organization.id, name=organization.name, kind=organization.kind, district=organization.district,
        inn=organization.inn, ogrn=organization.ogrn, parent_id=organization.parent_id,
        registry_status=organization.registry_status,
    )


def create_organization(
    database: sessionmaker[Session], principal: Principal, new: NewOrganization
) -> OrganizationView:
    """`bridge org add`: technical support only (no role in the hierarchy creates organizations)."""
    context = audit_context_of(principal)
    with unit_of_work(database, context, "organization.create", kind=new.kind) as db:
        require_support(db, principal, SUPPORT_ONLY)
        return _view(organizations.create_organization(db, context, new))


def edit_organization(
    database: sessionmaker[Session], principal: Principal, organization_id: int, new: NewOrganization,
    registry_status: RegistryStatus,
) -> OrganizationView:
    """`bridge org edit` and «Изменить» in the registry: every field anew, support only."""
    context = audit_context_of(principal)
    with unit_of_work(database, context, "organization.edit", organization_id=organization_id) as db:
        require_support(db, principal, SUPPORT_ONLY)
        return _view(organizations.edit_organization(db, context, organization_id, new, registry_status))


def require_registry_keeper(database: sessionmaker[Session], principal: Principal) -> None:
    """Whether the registry's forms may be shown at all (before anything is typed into them)."""
    with database() as db:
        require_support(db, principal, SUPPORT_ONLY)


def show_organization(database: sessionmaker[Session], principal: Principal, organization_id: int) -> OrganizationView:
    with database() as db:
        require_support(db, principal, SUPPORT_ONLY)
        return _view(organizations.get_organization(db, organization_id))


def search_registry(
    database: sessionmaker[Session], principal: Principal, query: str, *, limit: int = REGISTRY_PAGE
) -> tuple[OrganizationView, ...]:
    """Support's registry: by words of the name, ИНН, ОГРН or number; excluded organizations too."""
    with database() as db:
        require_support(db, principal, SUPPORT_ONLY)
        return tuple(_view(found) for found in organizations.search_organizations(db, query, limit=limit))


def list_organizations(
    database: sessionmaker[Session], principal: Principal, *, parent_id: int | None = None,
    district: str | None = None,
) -> tuple[OrganizationView, ...]:
    with database() as db:
        resolve(db, principal)  # an unknown or blocked --acting-as is refused here as everywhere
        found = organizations.list_organizations(db, parent_id=parent_id, district=district)
        return tuple(_view(organization) for organization in found)


@dataclass(frozen=True)
class OrganizationImport:
    rows: tuple[ImportedRow, ...]
    dry_run: bool
    # True only when every row was right and it was not a dry run: then every row was added.
    kept: bool

    @property
    def wrong(self) -> tuple[ImportedRow, ...]:
        return tuple(row for row in self.rows if row.outcome is RowOutcome.WRONG)


def import_organizations(
    database: sessionmaker[Session], principal: Principal, rows: list[dict[str, str]], *, dry_run: bool
) -> OrganizationImport:
    """`bridge org import FILE [--dry-run]` and the registry's «Загрузить из таблицы»: every row
    checked and reported; the rows are kept only if none is wrong (all or nothing)."""
    context = audit_context_of(principal)
    with unit_of_work(database, context, "organization.import", rows=len(rows), dry_run=dry_run) as db:
        require_support(db, principal, SUPPORT_ONLY)
        whole = db.begin_nested()
        report = organization_import.import_rows(db, rows)
        wrong = sum(row.outcome is RowOutcome.WRONG for row in report)
        kept = not dry_run and wrong == 0 and bool(report)
        if not kept:
            whole.rollback()
        else:
            whole.commit()
        if not dry_run:
            audit.record(
                db, context, "organization.imported", "success" if kept else "refused",
                rows=len(report), created=len(report) if kept else 0, wrong=wrong,
            )
        return OrganizationImport(rows=tuple(report), dry_run=dry_run, kept=kept)
