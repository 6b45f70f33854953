"""The staff list at the scale of a district (`bridge staff list`, «Сотрудники»): a page, the
filter's choices, and an export of the whole filter.

Reading a page is not an operation: nothing is audited (as with a card). An export takes the
people out of the bridge, so it is: who, which filter (never the searched text, which can be a
СНИЛС or a name: only which kind of search it was), in which format, how many rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.services.audit import record
from bridge.services.errors import InvalidInput
from bridge.services.hierarchy import overseen_organizations
from bridge.services.roles import ROLES, Role, role_title
from bridge.services.staff_export import CONTENT_TYPES, WRITERS, ExportFormat
from bridge.services.staff_search import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    Cursor,
    StaffFilter,
    StaffRow,
    all_staff,
    checked_filter,
    count_staff,
    search_kind,
    staff_page,
)
from bridge.storage.types import utcnow

__all__ = [
    "PAGE_SIZES", "FilterChoices", "StaffExport", "StaffFilter", "StaffPage", "export_staff", "list_staff",
    "staff_filter_choices",
]


# Beyond this many, the list says «более 10 000» instead of counting a district row by row.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class StaffPage:
    rows: tuple[StaffRow, ...]
    # At most `count_cap` + 1: then `total_capped` and the page count is not known.
    total: int
    total_capped: bool
    page: int
    page_size: int
    has_next: bool
    has_previous: bool

    @property
    def pages(self) -> int | None:
        return None if self.total_capped else max(1, -(-self.total // self.page_size))

    @property
    def total_text(self) -> str:
        """«42», or «более 10 000» when the count stopped at the cap."""
        if self.total_capped:
            return "более " + f"{self.total - 1:,}".replace(",", "\u00a0")
        return str(self.total)

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.page_size + 1

    @property
    def first_id(self) -> int | None:
        return self.rows[0].id if self.rows else None

    @property
    def last_id(self) -> int | None:
        return self.rows[-1].id if self.rows else None


@dataclass(frozen=True)
class FilterChoices:
    # (id, name) of the organizations of the actor's subtree; the roles held there that they manage.
    organizations: tuple[tuple[int, str], ...]
    roles: tuple[tuple[Role, str], ...]


@dataclass(frozen=True)
class StaffExport:
    filename: str
    content_type: str
    content: bytes
    rows: int


def staff_filter_choices(database: sessionmaker[Session], principal: Principal) -> FilterChoices:
    with database() as db:
        actor = resolve(db, principal)
        organizations = overseen_organizations(db, actor)
    kinds = {organization.kind for organization in organizations}
    roles = tuple((role, role_title(role)) for role in Role if ROLES[role].organization_kinds & kinds)
    return FilterChoices(
        organizations=tuple((organization.id, organization.name) for organization in organizations), roles=roles
    )


def list_staff(
    database: sessionmaker[Session], principal: Principal, wanted: StaffFilter, *, page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE, after: int | None = None, before: int | None = None,
    count_cap: int = COUNT_CAP, now: datetime | None = None,
) -> StaffPage:
    """One page of the people the actor manages, narrowed by `wanted`.

    `after`/`before` (a row's id, from the page's «Дальше»/«Назад») page from that row's edge, so
    a deep page costs what the first does; otherwise `page` counts from the start (the CLI's
    `--page`), and a page past the end is the last. `page` is then only the number shown.
    """
    if page_size not in PAGE_SIZES:
        raise InvalidInput("page_size", f"Размер страницы — одно из: {', '.join(map(str, PAGE_SIZES))}.")
    now = now or utcnow()
    page = max(1, page)
    with database() as db:
        actor = resolve(db, principal)
        checked_filter(db, actor, wanted)
        total = count_staff(db, actor, wanted, now, cap=count_cap)
        capped = total > count_cap
        if after is not None or before is not None:
            forward = after is not None
            cursor = Cursor(after if after is not None else before or 0, forward=forward)
            rows = staff_page(db, actor, wanted, limit=page_size + 1, cursor=cursor, now=now)
            extra = len(rows) > page_size
            rows = rows[:page_size] if forward else rows[-page_size:]
            has_next, has_previous = (extra, True) if forward else (True, extra)
        else:
            if not capped:
                page = min(page, max(1, -(-total // page_size)))
            rows = staff_page(db, actor, wanted, offset=(page - 1) * page_size, limit=page_size + 1, now=now)
            has_next, has_previous = len(rows) > page_size, page > 1
            rows = rows[:page_size]
    return StaffPage(
        rows=tuple(rows), total=total, total_capped=capped, page=page, page_size=page_size, has_next=has_next,
        has_previous=has_previous,
    )


def export_staff(
    database: sessionmaker[Session], principal: Principal, wanted: StaffFilter, export_format: ExportFormat,
    *, max_rows: int, now: datetime | None = None,
) -> StaffExport:
    """The whole filter as a file, refused before a row is written when it holds more than `max_rows`."""
    now = now or utcnow()
    details = _filter_details(wanted) | {"format": export_format.value}
    with unit_of_work(database, audit_context_of(principal), "staff.export", **details) as db:
        actor = resolve(db, principal)
        checked_filter(db, actor, wanted)
        total = count_staff(db, actor, wanted, now, cap=max_rows)
        if total > max_rows:
            raise InvalidInput(
                "export_too_large",
                f"В выгрузку попало бы больше {max_rows} сотрудников: "
                "сузьте отбор (организация, роль, состояние).",
            )
        content, rows = WRITERS[export_format](all_staff(db, actor, wanted, limit=max_rows, now=now))
        record(db, actor.audit_context, "staff.exported", "success", rows=rows, **details)
    stamp = f"{now:%Y%m%d-%H%M}"
    return StaffExport(
        filename=f"staff-{stamp}.{export_format.value}", content_type=CONTENT_TYPES[export_format],
        content=content, rows=rows,
    )


def _filter_details(wanted: StaffFilter) -> dict[str, Any]:
    return {
        "organization_id": wanted.organization_id,
        "role": wanted.role.value if wanted.role else None,
        "status": wanted.status.value if wanted.status else None,
        "binding": wanted.binding.value if wanted.binding else None,
        "awaiting": wanted.awaiting,
        "search": (kind.value if (kind := search_kind(wanted.search)) else None),
    }
