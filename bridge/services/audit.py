"""The audit log: one append-only record per authentication and credential event.

Records are hash-chained at commit (bridge.services.audit_chain): `record()` parks the record on
the session, and it is inserted, with its `id`, `seq` and hashes, when the transaction commits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bridge.observability.request_id import current_request_id
from bridge.services.audit_chain import AuditRecord, link_at_commit
from bridge.storage.types import utcnow

logger = logging.getLogger("bridge.audit")

# Keys that must never reach the audit log or the logs, whatever a caller passes.
_SECRET_KEYS = frozenset(
    {"password", "new_password", "secret", "client_secret", "code", "token", "access_token",
     "refresh_token", "id_token", "code_verifier", "password_hash"}
)

CLI_SUPPORT_ACTOR = "cli:support"
# The background housekeeping (the removal of a deactivated person's data).
HOUSEKEEPING_ACTOR = "system:housekeeping"
ANONYMOUS_ACTOR = "anonymous"


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where; passed down from the entry point."""

    actor: str
    address: str | None = None
    # The browser's User-Agent, for a sign-in session's «Мои сеансы» line; never written to the audit log.
    user_agent: str | None = None


def record(
    db: Session,
    context: AuditContext,
    event: str,
    outcome: str,
    *,
    subject_staff_id: int | None = None,
    organization_id: int | None = None,
    personal: Mapping[str, Any] | None = None,
    **details: Any,
) -> AuditRecord:
    """One audit record. `personal`: what it says about the person's data (ФИО old → new, a
    reason typed about them), kept beside the record and erased with their data (152-ФЗ)."""
    leaked = _SECRET_KEYS.intersection(details) | _SECRET_KEYS.intersection(personal or {})
    if leaked:
        raise ValueError(f"refusing to audit secret fields: {sorted(leaked)}")
    if personal and subject_staff_id is None:
        raise ValueError("personal details belong to a person: give subject_staff_id")
    request_id = current_request_id()
    if request_id is not None:
        # The HTTP request that caused it: the record joins the log lines of the same id. Hashed with
        # the rest of the record like any detail.
        details = {**details, "request_id": request_id}
    entry = AuditRecord(
        at=utcnow(),
        event=event,
        outcome=outcome,
        actor=context.actor,
        address=context.address,
        subject_staff_id=subject_staff_id,
        organization_id=organization_id,
        # As the database will give them back (tuples become lists), so the hash taken now holds.
        details=_as_stored(details),
    )
    # Chained and inserted at commit, with the personal details beside it (bridge.services.audit_chain).
    link_at_commit(db, entry, personal=(subject_staff_id, dict(personal)) if personal and subject_staff_id else None)
    # The log names the personal fields, never their values: logs outlive the retention period.
    shown = {**details, "personal": sorted(personal)} if personal else details
    logger.info("audit %s %s actor=%s staff=%s %s", event, outcome, context.actor, subject_staff_id, shown)
    return entry


# Values JSON gives back as they went in: a flat detail of these is stored as it is (strictly these
# types: a subclass, an enum say, may come back as something else).
_PLAIN = frozenset({str, int, bool, type(None)})


def _as_stored(details: dict[str, Any]) -> dict[str, Any]:
    """`details` as the database gives them back (keyword names are strings already)."""
    if all(type(value) in _PLAIN for value in details.values()):
        return dict(details)
    stored: dict[str, Any] = json.loads(json.dumps(details, allow_nan=False))
    return stored


def record_independently(
    factory: Any, context: AuditContext, event: str, outcome: str, **kwargs: Any
) -> None:
    """Record a refusal in its own transaction, so it survives the caller's rollback."""
    with factory() as db, db.begin():
        record(db, context, event, outcome, **kwargs)
