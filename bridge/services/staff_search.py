"""The staff list at the scale of a district: filters, a search and pages, answered by the database.

Whom an administrator sees is the hierarchy's rule as SQL (`hierarchy.managed_staff_clause`), so a
district of 100,000 people is never loaded to be filtered in Python. The order is stable
(compared name, then id), so offset pages neither skip nor repeat a person between two requests
that change nothing.

The search box takes one of three things, told apart by their shape:
- a СНИЛС, typed with or without dashes and spaces (11 digits) → that one person, by the unique column;
- a login (Latin letters, digits, «_») → logins beginning with it;
- anything else → names beginning with it («Иванов», «иванов ив»), without case or «ё»/«е».
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, tuple_, union
from sqlalchemy.orm import Session, selectinload

from bridge.services.actors import Actor
from bridge.services.credentials import CREDENTIAL_STATUS_TITLES, credential_status
from bridge.services.errors import InvalidInput, PermissionDenied
from bridge.services.hierarchy import managed_staff_clause, overseen_organizations
from bridge.services.identifiers import formatted_snils, normalized_snils
from bridge.services.person_names import comparable, full_name
from bridge.services.roles import Role, role_title
from bridge.services.staff_cards import STATUS_TITLES

# StaffStatus is part of a StaffFilter: the front ends take it from here, not from storage.
from bridge.storage.enums import StaffStatus as StaffStatus
from bridge.storage.models import ActivationLink, ExternalBinding, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 200

# Above every character: a prefix's range ends here (byte order on both engines).
_LAST_CHARACTER = "\U0010ffff"
_LOGIN_SHAPE = re.compile(r"[a-z0-9_]+")
_SNILS_SHAPE = re.compile(r"[\d\s-]+")


class BindingFilter(StrEnum):
    BOUND = "bound"
    UNBOUND = "unbound"


@dataclass(frozen=True)
class StaffFilter:
    """What the list is narrowed to; every field empty lists everyone the actor manages."""

    organization_id: int | None = None
    role: Role | None = None
    status: StaffStatus | None = None
    binding: BindingFilter | None = None
    # Waiting for a first sign-in: an issued password not yet used, or an activation link not yet followed.
    awaiting: bool = False
    search: str = ""


@dataclass(frozen=True)
class StaffRoleLine:
    title: str
    organization_id: int
    organization_name: str
    position: str | None
    start_date: date
    end_date: date | None


@dataclass(frozen=True)
class StaffRow:
    """One line of the list (and of an export): plain values, never a password hash."""

    id: int
    login: str
    full_name: str
    snils: str
    email: str
    status: StaffStatus
    status_title: str
    credential_status_title: str
    roles: tuple[StaffRoleLine, ...]
    providers: tuple[str, ...]
    created_at: datetime

    @property
    def blocked(self) -> bool:
        return self.status != StaffStatus.ACTIVE


def checked_filter(db: Session, actor: Actor, wanted: StaffFilter) -> None:
    """Refuse an organization outside the actor's subtree, and a search too long to be a name."""
    if len(wanted.search) > SEARCH_MAX_LENGTH:
        raise InvalidInput("search_too_long", f"Строка поиска — не длиннее {SEARCH_MAX_LENGTH} знаков.")
    if wanted.organization_id is not None and wanted.organization_id not in {
        organization.id for organization in overseen_organizations(db, actor)
    }:
        raise PermissionDenied(
            "organization_not_overseen", "Эта организация не относится к вашим: выберите организацию из списка.",
            organization_id=wanted.organization_id,
        )


class SearchKind(StrEnum):
    SNILS = "snils"
    LOGIN = "login"
    NAME = "name"


def search_kind(search: str) -> SearchKind | None:
    """What the typed text is taken for (the audit of an export names this, never the text)."""
    text = " ".join(search.split())
    if not text:
        return None
    if _SNILS_SHAPE.fullmatch(text) and sum(character.isdigit() for character in text) == 11:
        return SearchKind.SNILS
    if _LOGIN_SHAPE.fullmatch(text.lower()):
        return SearchKind.LOGIN
    return SearchKind.NAME


def _search_condition(search: str) -> ColumnElement[bool] | None:
    text = " ".join(search.split())
    kind = search_kind(text)
    if kind is None:
        return None
    if kind is SearchKind.SNILS:
        return StaffMember.snils == normalized_snils(text)
    if kind is SearchKind.LOGIN:
        escaped = text.lower().replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        return StaffMember.login.like(escaped + "%", escape="\\")
    key = comparable(text)
    return and_(StaffMember.search_name >= key, StaffMember.search_name < key + _LAST_CHARACTER)


def _conditions(db: Session, actor: Actor, wanted: StaffFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions = [managed_staff_clause(db, actor)]
    if wanted.organization_id is not None or wanted.role is not None:
        holds = [
            RoleAssignment.staff_id == StaffMember.id,
            or_(RoleAssignment.end_date.is_(None), RoleAssignment.end_date >= now.date()),
        ]
        if wanted.organization_id is not None:
            holds.append(RoleAssignment.organization_id == wanted.organization_id)
        if wanted.role is not None:
            holds.append(RoleAssignment.role == wanted.role)
        conditions.append(select(RoleAssignment.id).where(*holds).exists())
    if wanted.status is not None:
        conditions.append(StaffMember.status == wanted.status)
    if wanted.binding is not None:
        bound = select(ExternalBinding.id).where(ExternalBinding.staff_id == StaffMember.id).exists()
        conditions.append(bound if wanted.binding is BindingFilter.BOUND else ~bound)
    if wanted.awaiting:
        # One set of ids, not an OR of two conditions per row: the database collects the few who
        # wait (a partial index for the passwords, the links by their own table) instead of
        # testing a district person by person.
        link_waits = select(ActivationLink.staff_id).where(
            ActivationLink.used_at.is_(None), ActivationLink.revoked_at.is_(None), ActivationLink.expires_at > now,
        )
        password_waits = select(StaffMember.id).where(
            StaffMember.password_hash.is_not(None), StaffMember.credential_used_at.is_(None),
            or_(StaffMember.credential_expires_at.is_(None), StaffMember.credential_expires_at > now),
        )
        conditions.append(StaffMember.id.in_(union(link_waits, password_waits)))
    searched = _search_condition(wanted.search)
    if searched is not None:
        conditions.append(searched)
    return conditions


def _listing(db: Session, actor: Actor, wanted: StaffFilter, now: datetime) -> Select[StaffMember]:
    return (
        select(StaffMember)
        .where(*_conditions(db, actor, wanted, now))
        .order_by(StaffMember.search_name, StaffMember.id)
        .options(
            selectinload(StaffMember.roles).selectinload(RoleAssignment.organization),
            selectinload(StaffMember.bindings),
        )
    )


def count_staff(
    db: Session, actor: Actor, wanted: StaffFilter, now: datetime | None = None, *, cap: int | None = None
) -> int:
    """How many the filter holds; with `cap`, counting stops past it (cap + 1 means "more than cap"):
    a district's whole list is not counted row by row on every page."""
    matching = select(StaffMember.id).where(*_conditions(db, actor, wanted, now or utcnow()))
    if cap is not None:
        matching = matching.limit(cap + 1)
    return db.scalar(select(func.count()).select_from(matching.subquery())) or 0


@dataclass(frozen=True)
class Cursor:
    """A page's edge: the person beside whom the next (forward) or previous page begins.

    Pages after the first go by this edge, so a deep page costs what the first one does; the URL
    carries only the person's id (never a name).
    """

    staff_id: int
    forward: bool


def staff_page(
    db: Session, actor: Actor, wanted: StaffFilter, *, limit: int, offset: int = 0, cursor: Cursor | None = None,
    now: datetime | None = None,
) -> list[StaffRow]:
    """Up to `limit` rows in the list's order: from `offset`, or beside `cursor`."""
    now = now or utcnow()
    query = _listing(db, actor, wanted, now)
    if cursor is not None:
        edge = db.execute(
            select(StaffMember.search_name, StaffMember.id).where(StaffMember.id == cursor.staff_id)
        ).one_or_none()
        if edge is None:
            raise InvalidInput("stale_page", "Список изменился: откройте его с первой страницы.")
        key, at = tuple_(StaffMember.search_name, StaffMember.id), tuple_(literal(edge[0]), literal(edge[1]))
        if cursor.forward:
            query = query.where(key > at)
        else:
            query = query.where(key < at).order_by(None).order_by(StaffMember.search_name.desc(),
                                                                  StaffMember.id.desc())
    found = list(db.scalars(query.offset(offset).limit(limit)))
    if cursor is not None and not cursor.forward:
        found.reverse()
    return [staff_row(staff, now) for staff in found]


def all_staff(db: Session, actor: Actor, wanted: StaffFilter, *, limit: int, now: datetime | None = None) -> Iterator[
    StaffRow
]:
    """Every row of the filter, up to `limit`, 500 at a time from the edge of the last (an export)."""
    now = now or utcnow()
    given, batch, cursor = 0, 500, None
    while given < limit:
        rows = staff_page(db, actor, wanted, limit=min(batch, limit - given), cursor=cursor, now=now)
        yield from rows
        given += len(rows)
        if len(rows) < batch:
            return
        cursor = Cursor(rows[-1].id, forward=True)
        db.expunge_all()


def staff_row(staff: StaffMember, now: datetime) -> StaffRow:
    today = now.date()
    roles = tuple(
        StaffRoleLine(
            title=role_title(assignment.role), organization_id=assignment.organization_id,
            organization_name=assignment.organization.name, position=assignment.position,
            start_date=assignment.start_date, end_date=assignment.end_date,
        )
        for assignment in staff.roles
        if assignment.end_date is None or assignment.end_date >= today
    )
    return StaffRow(
        id=staff.id, login=staff.login, full_name=full_name(staff.surname, staff.name, staff.patronymic),
        snils=formatted_snils(staff.snils), email=staff.email or "", status=staff.status,
        status_title=STATUS_TITLES[staff.status],
        credential_status_title=CREDENTIAL_STATUS_TITLES[credential_status(staff, now)],
        roles=roles, providers=tuple(sorted(binding.provider for binding in staff.bindings)),
        created_at=staff.created_at,
    )
