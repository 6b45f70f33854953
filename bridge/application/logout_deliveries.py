"""The back-channel logout queue for operators (`bridge logout-deliveries`): its state, a retry.

Delivery itself is the running bridge's (bridge.op.backchannel): a retry only queues the failed
deliveries again, and the next pass of any running instance sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support
from bridge.application.unit_of_work import unit_of_work
from bridge.services.audit import record
from bridge.services.logout_deliveries import DeliveryStatus, delivery_counts, failed_deliveries, retry_failed

SUPPORT_ONLY = "Уведомлениями приложений о выходе занимается техническая поддержка: выполните команду без --acting-as."


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    client_id: str
    created_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class DeliveryQueueState:
    counts: dict[DeliveryStatus, int]
    failed: tuple[FailedDelivery, ...]


def delivery_queue_state(database: sessionmaker[Session], principal: Principal) -> DeliveryQueueState:
    """How many logout tokens wait, went and failed; the newest failures with their reasons."""
    require_cli_support(principal, SUPPORT_ONLY)
    with database() as db:
        return DeliveryQueueState(
            counts=delivery_counts(db),
            failed=tuple(
                FailedDelivery(row.id, row.client_id, row.created_at, row.attempts, row.last_error)
                for row in failed_deliveries(db)
            ),
        )


def retry_failed_deliveries(database: sessionmaker[Session], principal: Principal, client_id: str | None) -> int:
    """Queue the given-up deliveries (of one app, or all) again; returns how many."""
    require_cli_support(principal, SUPPORT_ONLY)
    context = audit_context_of(principal)
    with unit_of_work(database, context, "oidc.backchannel_logout.retry", client_id=client_id) as db:
        retried = retry_failed(db, client_id=client_id)
        record(db, context, "oidc.backchannel_logout.retried", "success", client_id=client_id, retried=retried)
        return retried
