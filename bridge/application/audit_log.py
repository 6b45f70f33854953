"""Reading the audit log back: technical support at the CLI (`bridge audit`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, require_cli_support
from bridge.services.audit_log import personal_details, recent_audit_events


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


def read_audit_log(
    database: sessionmaker[Session],
    principal: Principal,
    *,
    limit: int = 50,
    login: str | None = None,
    event_prefix: str | None = None,
) -> tuple[AuditRecord, ...]:
    """Newest first; `login` matches events done by that person or about them."""
    require_cli_support(
        principal, "Журнал аудита читает техническая поддержка: выполните команду без --acting-as."
    )
    with database() as db:
        events = recent_audit_events(db, limit=limit, login=login, event_prefix=event_prefix)
        personal = personal_details(db, [event.id for event in events])
        return tuple(
            AuditRecord(
                id=event.id, at=event.at, event=event.event, outcome=event.outcome, actor=event.actor,
                subject_staff_id=event.subject_staff_id, organization_id=event.organization_id,
                address=event.address, details=dict(event.details), personal=personal.get(event.id),
            )
            for event in events
        )
