"""The steps of a sign-in ceremony parked on the server, for the flows: one transaction per call.

What a step holds is the flow's business; how it is kept (hashed browser id and key, single use
by DELETE … RETURNING, expiry) is bridge/services/flow_state.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.services import flow_state
from bridge.services.flow_state import FlowKind, PurgeSchedule
from bridge.storage.database import plain_transaction, transaction


@dataclass(frozen=True)
class Step:
    """A new keyed step to park (a fresh `state` or tab id) and how long it waits."""

    kind: FlowKind
    data: dict[str, Any]
    ttl: timedelta
    key: str


def park(
    database: sessionmaker[Session],
    purge: PurgeSchedule,
    browser_id: str,
    kind: FlowKind,
    data: dict[str, Any],
    *,
    ttl: timedelta,
    key: str,
) -> None:
    """Park a new keyed step (a fresh `state` or tab id); expired steps are purged now and then."""
    park_all(database, purge, browser_id, [Step(kind, data, ttl, key)])


def park_all(database: sessionmaker[Session], purge: PurgeSchedule, browser_id: str, steps: Sequence[Step]) -> None:
    """Park steps that begin together (an app's request and its upstream round trip) in one transaction."""
    with transaction(database) as db:
        park_all_within(db, purge, browser_id, steps)


def park_all_within(db: Session, purge: PurgeSchedule, browser_id: str, steps: Sequence[Step]) -> None:
    """`park_all` in the caller's transaction (the authorization endpoint's own): one INSERT for all."""
    flow_state.park_together(db, browser_id, [(step.kind, step.data, step.ttl, step.key) for step in steps])
    purge.maybe_purge(db)


def keep(
    database: sessionmaker[Session],
    purge: PurgeSchedule,
    browser_id: str,
    kind: FlowKind,
    data: dict[str, Any],
    *,
    ttl: timedelta,
    key: str,
) -> None:
    """Park the step, or update the one already parked under this key (its expiry unchanged)."""
    with transaction(database) as db:
        if flow_state.replace_data(db, browser_id, kind, data, key=key):
            return
        flow_state.park(db, browser_id, kind, data, ttl=ttl, key=key)
        purge.maybe_purge(db)


def take(database: sessionmaker[Session], browser_id: str, kind: FlowKind, key: str = "") -> dict[str, Any] | None:
    """The step, removed: whoever takes it first has it, nobody else ever will."""
    with transaction(database) as db:
        return flow_state.consume(db, browser_id, kind, key=key)


def take_noting(
    database: sessionmaker[Session], browser_id: str, kind: FlowKind, key: str, noting: FlowKind
) -> tuple[dict[str, Any] | None, bool]:
    """`take`, and whether a live keyless step of kind `noting` rests in this browser at that moment.

    One Core statement (the upstream callback's, before its network exchange): its own transaction
    on a connection, no ORM session around it."""
    with plain_transaction(database) as connection:
        return flow_state.consume_noting(connection, browser_id, kind, key=key, noting=noting)


def peek(database: sessionmaker[Session], browser_id: str, kind: FlowKind, key: str = "") -> dict[str, Any] | None:
    with database() as db:
        return flow_state.peek(db, browser_id, kind, key=key)
