"""Reading the audit log back (writing it is bridge.services.audit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.moscow_time import MOSCOW
from bridge.services.roles import Role
from bridge.storage.models import AuditEvent, AuditPersonalDetails, Organization, RoleAssignment, StaffMember

_DEPARTMENT_ROLES = frozenset({Role.EDUCATION_DEPARTMENT, Role.PRESCHOOL_DEPARTMENT})


def personal_details(db: Session, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What these records say about people's data, while it is kept (by event id)."""
    if not event_ids:
        return {}
    rows = db.scalars(select(AuditPersonalDetails).where(AuditPersonalDetails.event_id.in_(event_ids)))
    return {row.event_id: dict(row.details) for row in rows}


@dataclass(frozen=True)
class AuditFilter:
    """What the audit viewer (page and `bridge audit`) narrows the log to; None: no narrowing."""

    # Moscow calendar days, both included.
    since: date | None = None
    until: date | None = None
    # Who acted (a login, or "cli:support"), exactly.
    actor: str | None = None
    # Whom it was about: a login.
    subject: str | None = None
    # Done by this login or about them.
    person: str | None = None
    # An event name or its beginning ("credential.", "issuance.refused").
    event: str | None = None
    organization_id: int | None = None


# The organizations whose records an administrator may read: None is every one (technical support).
AuditScope = frozenset[int] | None


def audit_scope(db: Session, actor: Actor) -> AuditScope:
    """The actor's subtree: a department sees itself and the organizations under it, any other
    administrator their own organization; technical support sees all."""
    if actor.is_cli_support or any(acting.role is Role.SUPPORT for acting in actor.roles):
        return None
    scope: set[int] = set()
    for acting in actor.roles:
        scope.add(acting.organization_id)
        if acting.role in _DEPARTMENT_ROLES:
            scope.update(db.scalars(select(Organization.id).where(Organization.parent_id == acting.organization_id)))
    return frozenset(scope)


def audit_conditions(db: Session, view: AuditFilter, scope: AuditScope) -> list[ColumnElement[bool]]:
    """The WHERE of the filtered view, shared by the page, `bridge audit` and the export."""
    conditions: list[ColumnElement[bool]] = []
    if scope is not None:
        # A record of the subtree: done in one of its organizations, or about a person who holds
        # (or held) a role there.
        people = select(RoleAssignment.staff_id).where(RoleAssignment.organization_id.in_(scope))
        conditions.append(or_(AuditEvent.organization_id.in_(scope), AuditEvent.subject_staff_id.in_(people)))
    if view.since is not None:
        conditions.append(AuditEvent.at >= datetime.combine(view.since, time(), MOSCOW))
    if view.until is not None:
        conditions.append(AuditEvent.at < datetime.combine(view.until + timedelta(days=1), time(), MOSCOW))
    if view.actor:
        conditions.append(AuditEvent.actor == view.actor)
    if view.subject:
        staff_id = db.scalar(select(StaffMember.id).where(StaffMember.login == view.subject))
        # An unknown login matches nothing, rather than being ignored.
        conditions.append(AuditEvent.subject_staff_id == (staff_id if staff_id is not None else -1))
    if view.person:
        staff_id = db.scalar(select(StaffMember.id).where(StaffMember.login == view.person))
        by_or_about = [AuditEvent.actor == view.person]
        if staff_id is not None:
            by_or_about.append(AuditEvent.subject_staff_id == staff_id)
        conditions.append(or_(*by_or_about))
    if view.event:
        conditions.append(AuditEvent.event.startswith(view.event, autoescape=True))
    if view.organization_id is not None:
        conditions.append(AuditEvent.organization_id == view.organization_id)
    return conditions


def filtered_audit_events(
    db: Session, view: AuditFilter, scope: AuditScope, *, offset: int, limit: int
) -> list[AuditEvent]:
    """One page of the view, newest first."""
    query = (
        select(AuditEvent).where(*audit_conditions(db, view, scope))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset(max(offset, 0)).limit(max(limit, 0))
    )
    return list(db.scalars(query))


def count_audit_events(db: Session, conditions: list[ColumnElement[bool]]) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
