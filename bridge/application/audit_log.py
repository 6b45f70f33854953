"""Reading the audit log back: the audit viewer page and `bridge audit`, one function.

Every administrator reads the records of their own subtree (their organization, and for a
department the organizations under it); technical support reads all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import NO_ISSUING_ROLE, Principal, resolve
from bridge.services.actors import Actor
from bridge.services.audit_export import ExportFormat, ExportSummary, export_audit_trail
from bridge.services.audit_log import (
    AuditFilter,
    AuditScope,
    audit_conditions,
    audit_scope,
    count_audit_events,
    filtered_audit_events,
    personal_details,
)
from bridge.services.errors import InvalidInput, PermissionDenied
from bridge.services.roles import ROLES

__all__ = ["AuditFilter", "AuditPage", "AuditRecord", "export_audit_view", "read_audit_log"]

# How many records one export of a filtered view holds at most: beyond that, narrow the filter
# (a whole-chain export for a SIEM is `bridge audit export` without filters).
VIEW_EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    event: str
    outcome: str
    actor: str
    subject_staff_id: int | None
    organization_id: int | None
    address: str | None
    details: dict[str, Any]
    # ФИО old → new, a block's reason: kept beside the record until the person's data is removed.
    personal: dict[str, Any] | None = None


@dataclass(frozen=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    page: int
    has_next: bool
    # Technical support sees every organization's records.
    whole_log: bool


def _reader_scope(db: Session, principal: Principal) -> AuditScope:
    """Who reads, and what they may read: an administrator (a role that issues something) their subtree."""
    actor: Actor = resolve(db, principal)
    if not actor.is_cli_support and not any(ROLES[acting.role].issues for acting in actor.roles):
        raise PermissionDenied("role_issues_nothing", NO_ISSUING_ROLE)
    return audit_scope(db, actor)


def read_audit_log(
    database: sessionmaker[Session], principal: Principal, view: AuditFilter | None = None, *, page: int = 1,
    limit: int = 50,
) -> AuditPage:
    """Newest first, one page of `limit` records of the reader's subtree that match `view`."""
    view = view or AuditFilter()
    page = max(page, 1)
    with database() as db:
        scope = _reader_scope(db, principal)
        events = filtered_audit_events(db, view, scope, offset=(page - 1) * limit, limit=limit + 1)
        shown = events[:limit]
        personal = personal_details(db, [event.id for event in shown])
        records = tuple(
            AuditRecord(
                id=event.id, at=event.at, event=event.event, outcome=event.outcome, actor=event.actor,
                subject_staff_id=event.subject_staff_id, organization_id=event.organization_id,
                address=event.address, details=dict(event.details), personal=personal.get(event.id),
            )
            for event in shown
        )
        return AuditPage(records=records, page=page, has_next=len(events) > limit, whole_log=scope is None)


def export_audit_view(
    database: sessionmaker[Session], principal: Principal, view: AuditFilter, out: TextIO, format: ExportFormat
) -> ExportSummary:
    """The filtered view, with seq and hashes, as `bridge audit export` writes the chain: the page's
    «Выгрузить» and `bridge audit export --actor … --org …` alike, within the reader's subtree."""
    with database() as db:
        scope = _reader_scope(db, principal)
        conditions = audit_conditions(db, view, scope)
        # Counted before a line is written: a refused export writes nothing.
        if count_audit_events(db, conditions) > VIEW_EXPORT_LIMIT:
            raise InvalidInput(
                "export_too_large", f"Под фильтр попадает больше {VIEW_EXPORT_LIMIT} записей: сузьте период."
            )
        return export_audit_trail(db, out, format, where=conditions)
