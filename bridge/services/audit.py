"""The audit log: one append-only record per authentication and credential event.

Records are hash-chained at commit (bridge.services.audit_chain): `record()` parks the record on
the session, and it is inserted, with its `id`, `seq` and hashes, when the transaction commits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bridge.services.audit_chain import link_at_commit
from bridge.storage.models import AuditEvent
from bridge.storage.types import utcnow

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
        at=utcnow(),
        event=event,
        outcome=outcome,
        actor=context.actor,
        address=context.address,
        subject_staff_id=subject_staff_id,
        organization_id=organization_id,
        # As the database will give them back (tuples become lists), so the hash taken now holds.
        details=json.loads(json.dumps(details, allow_nan=False)),
    )
    link_at_commit(db, entry)
    logger.info("audit %s %s actor=%s staff=%s %s", event, outcome, context.actor, subject_staff_id, details)
    return entry


def record_independently(
    factory: Any, context: AuditContext, event: str, outcome: str, **kwargs: Any
) -> None:
    """Record a refusal in its own transaction, so it survives the caller's rollback."""
    with factory() as db, db.begin():
        record(db, context, event, outcome, **kwargs)
