"""Retention: removing audit records older than a date, without breaking the chain.

A purge is privileged (technical support, from the CLI) and audited. It first verifies the
records it is about to remove, then writes a signed purge anchor at the newest of them (the
chain's hash there) and an `audit.purged` record, and only then deletes, in batches of their own
transactions. The append-only triggers let a DELETE through only for rows at or below a purge
anchor's seq, so nothing younger can be removed this way, and `bridge audit verify` starts from
the anchor: the first remaining record must link to the anchored hash. An interrupted purge is
finished by running it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record
from bridge.services.audit_anchors import AnchorSummary, write_anchor
from bridge.services.audit_settings import AuditSettings
from bridge.services.audit_verification import verify_chain
from bridge.services.errors import DomainError, InvalidInput
from bridge.storage.database import transaction
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor, AuditEvent
from bridge.storage.types import utcnow

PURGE_BATCH = 5000


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    through_seq: int  # every record at or below it is gone (0: none ever purged)
    deleted: int
    anchor: AnchorSummary | None  # the purge anchor written this time, if any


def purge_cutoff(settings: AuditSettings, before: datetime | None, now: datetime | None = None) -> datetime:
    """The date before which records go: `before`, or the retention setting's. `before` may not
    be younger than the retention period, so the setting is also the shortest a purge may keep."""
    now = now or utcnow()
    kept_from = now - timedelta(days=settings.retention_days) if settings.retention_days else None
    if before is None:
        if kept_from is None:
            raise InvalidInput(
                "retention_not_set",
                "Укажите --before ДАТА или задайте BRIDGE_AUDIT_RETENTION_DAYS (срок хранения журнала в днях).",
            )
        return kept_from
    if before > now:
        raise InvalidInput("purge_in_future", "Дата --before ещё не наступила.")
    if kept_from is not None and before > kept_from:
        raise InvalidInput(
            "purge_within_retention",
            f"Записи моложе {settings.retention_days} дней (BRIDGE_AUDIT_RETENTION_DAYS) удалять нельзя: "
            f"укажите дату не позже {kept_from.date().isoformat()}.",
        )
    return before


def purge_audit_trail(
    factory: sessionmaker[Session], context: AuditContext, cutoff: datetime, *, batch: int = PURGE_BATCH
) -> PurgeResult:
    anchor: AnchorSummary | None = None
    with transaction(factory) as db:
        purged_through = _purged_through(db)
        horizon = _horizon(db, cutoff)
        if horizon > purged_through:
            report = verify_chain(db, through_seq=horizon)
            if report.problem is not None:
                raise DomainError(
                    "audit_chain_broken",
                    "Удалять нельзя: подписанный якорь закрепил бы изменённый журнал. " + report.problem.line(),
                )
            hash_at = db.scalar(select(AuditEvent.hash).where(AuditEvent.seq == horizon))
            assert hash_at is not None  # verify_chain has just walked over it
            covered = db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq <= horizon))
            written = write_anchor(db, horizon, hash_at, AnchorReason.PURGE)
            record(
                db, context, "audit.purged", "success",
                before=cutoff.isoformat(), through_seq=horizon, records=covered or 0, anchor_id=written.id,
            )
            anchor = AnchorSummary.of(written)
            purged_through = horizon
    deleted = 0
    while True:
        with transaction(factory) as db:
            lowest = db.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.seq <= purged_through))
            if lowest is None:
                break
            deleted += db.connection().execute(
                delete(AuditEvent).where(
                    AuditEvent.seq >= lowest, AuditEvent.seq < lowest + batch, AuditEvent.seq <= purged_through
                )
            ).rowcount
    return PurgeResult(cutoff, purged_through, deleted, anchor)


def _purged_through(db: Session) -> int:
    newest = db.scalar(select(func.max(AuditAnchor.seq)).where(AuditAnchor.reason == AnchorReason.PURGE.value))
    return newest or 0


def _horizon(db: Session, cutoff: datetime) -> int:
    """The newest seq such that it and everything before it were recorded before `cutoff`."""
    first_young = db.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= cutoff))
    if first_young is not None:
        return int(first_young) - 1
    return int(db.scalar(select(func.max(AuditEvent.seq))) or 0)
