"""The audit log: one append-only record per authentication and credential event."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bridge.storage.models import AuditEvent

logger = logging.getLogger("bridge.audit")

# Keys that must never reach the audit log or the logs, whatever a caller passes.
_SECRET_KEYS = frozenset(
    {"password", "new_password", "secret", "client_secret", "code", "token", "access_token",
     "refresh_token", "id_token", "code_verifier", "password_hash"}
)

CLI_SUPPORT_ACTOR = "cli:support"
ANONYMOUS_ACTOR = "anonymous"


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where; passed down from the entry point."""

    actor: str
    address: str | None = None


def record(
    db: Session,
    context: AuditContext,
    event: str,
    outcome: str,
    *,
    subject_staff_id: int | None = None,
    organization_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    leaked = _SECRET_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"refusing to audit secret fields: {sorted(leaked)}")
    entry = AuditEvent(
        event=event,
        outcome=outcome,
        actor=context.actor,
        address=context.address,
        subject_staff_id=subject_staff_id,
        organization_id=organization_id,
        details=details,
    )
    db.add(entry)
    db.flush()
    logger.info("audit %s %s actor=%s staff=%s %s", event, outcome, context.actor, subject_staff_id, details)
    return entry


def record_independently(
    factory: Any, context: AuditContext, event: str, outcome: str, **kwargs: Any
) -> None:
    """Record a refusal in its own transaction, so it survives the caller's rollback."""
    with factory() as db, db.begin():
        record(db, context, event, outcome, **kwargs)
