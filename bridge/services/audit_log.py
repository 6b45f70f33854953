"""Reading the audit log back (writing it is bridge.services.audit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.storage.models import AuditEvent, AuditPersonalDetails, StaffMember


def recent_audit_events(
    db: Session, *, limit: int = 50, login: str | None = None, event_prefix: str | None = None
) -> list[AuditEvent]:
    """Newest first. `login` matches events done by that person or about them."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(max(limit, 0))
    if login is not None:
        staff_id = db.scalar(select(StaffMember.id).where(StaffMember.login == login))
        conditions = [AuditEvent.actor == login]
        if staff_id is not None:
            conditions.append(AuditEvent.subject_staff_id == staff_id)
        query = query.where(or_(*conditions))
    if event_prefix:
        query = query.where(AuditEvent.event.startswith(event_prefix, autoescape=True))
    return list(db.scalars(query))


def personal_details(db: Session, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What these records say about people's data, while it is kept (by event id)."""
    if not event_ids:
        return {}
    rows = db.scalars(select(AuditPersonalDetails).where(AuditPersonalDetails.event_id.in_(event_ids)))
    return {row.event_id: dict(row.details) for row in rows}
