"""Parked sign-in steps on both databases: single use under real concurrency, expiry, purge."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services import flow_state
from bridge.services.flow_state import FlowKind
from bridge.storage.database import build_engine, build_sessionmaker, transaction
from bridge.storage.models import AuthFlow
from bridge.storage.types import utcnow

TTL = timedelta(minutes=10)
BROWSER = "b" * 43


def park(
    factory: sessionmaker[Session],
    kind: FlowKind = FlowKind.UPSTREAM,
    key: str = "state-1",
    staff_id: int | None = None,
) -> None:
    with transaction(factory) as db:
        flow_state.park(db, BROWSER, kind, {"n": 1}, ttl=TTL, key=key, staff_id=staff_id)


def test_two_nodes_racing_for_one_step_have_exactly_one_winner(database_url: str, engine: Engine) -> None:
    # Two engines stand for two nodes sharing the database; eight threads take the same step at once.
    other_node = build_engine(database_url)
    nodes = [build_sessionmaker(engine), build_sessionmaker(other_node)]
    park(nodes[0])
    start = threading.Barrier(8)

    def take(index: int) -> dict[str, object] | None:
        start.wait()
        with transaction(nodes[index % 2]) as db:
            return flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-1")

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(take, range(8)))
    finally:
        other_node.dispose()
    assert [result for result in results if result is not None] == [{"n": 1}]


def test_a_step_is_found_only_by_its_browser_kind_and_key(db_factory: sessionmaker[Session]) -> None:
    park(db_factory)
    with transaction(db_factory) as db:
        assert flow_state.consume(db, "c" * 43, FlowKind.UPSTREAM, key="state-1") is None
        assert flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-2") is None
        assert flow_state.consume(db, BROWSER, FlowKind.PENDING_BINDING, key="state-1") is None
        assert flow_state.peek(db, BROWSER, FlowKind.UPSTREAM, key="state-1") == {"n": 1}
        assert flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-1") == {"n": 1}
        assert flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-1") is None


def test_an_expired_step_is_neither_read_nor_taken(db_factory: sessionmaker[Session]) -> None:
    park(db_factory)
    later = utcnow() + TTL + timedelta(seconds=1)
    with transaction(db_factory) as db:
        assert flow_state.peek(db, BROWSER, FlowKind.UPSTREAM, key="state-1", now=later) is None
        assert flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-1", now=later) is None


def test_the_table_holds_hashes_not_the_browser_id_or_the_state(db_factory: sessionmaker[Session]) -> None:
    park(db_factory)
    with db_factory() as db:
        row = db.scalars(select(AuthFlow)).one()
    assert BROWSER not in row.browser and "state-1" not in row.key
    assert row.browser == flow_state.digest(BROWSER) and row.key == flow_state.digest("state-1")


def test_a_keyless_step_is_replaced_by_the_next_one(db_factory: sessionmaker[Session]) -> None:
    for n in (1, 2):
        with transaction(db_factory) as db:
            flow_state.park(db, BROWSER, FlowKind.PENDING_BINDING, {"n": n}, ttl=TTL)
    with transaction(db_factory) as db:
        assert flow_state.consume(db, BROWSER, FlowKind.PENDING_BINDING) == {"n": 2}
        assert flow_state.consume(db, BROWSER, FlowKind.PENDING_BINDING) is None


def test_discarding_a_persons_steps_leaves_others(db_factory: sessionmaker[Session]) -> None:
    park(db_factory, FlowKind.LOCAL_PROOF, key="", staff_id=7)
    park(db_factory, FlowKind.UPSTREAM, key="state-9")
    with transaction(db_factory) as db:
        assert flow_state.discard_for_staff(db, 7) == 1
        assert flow_state.consume(db, BROWSER, FlowKind.LOCAL_PROOF) is None
        assert flow_state.consume(db, BROWSER, FlowKind.UPSTREAM, key="state-9") == {"n": 1}


def test_purge_removes_expired_steps_in_bounded_batches(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        for index in range(5):
            flow_state.park(db, BROWSER, FlowKind.UPSTREAM, {}, ttl=timedelta(0), key=f"old-{index}")
        flow_state.park(db, BROWSER, FlowKind.UPSTREAM, {}, ttl=TTL, key="fresh")
    with transaction(db_factory) as db:
        assert flow_state.purge_expired(db, batch=3) == 3
        assert flow_state.purge_expired(db, batch=3) == 2
        assert flow_state.purge_expired(db, batch=3) == 0
    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(AuthFlow)) == 1


def park_alone(db: Session, data: dict[str, object]) -> None:
    flow_state.park(db, BROWSER, FlowKind.PENDING_BINDING, data, ttl=TTL)


def park_with_a_keyed_step(db: Session, data: dict[str, object]) -> None:
    flow_state.park_together(
        db, BROWSER, [(FlowKind.PENDING_BINDING, data, TTL, ""), (FlowKind.UPSTREAM, data, TTL, f"state-{data['tab']}")]
    )


@pytest.mark.parametrize("park_step", [park_alone, park_with_a_keyed_step], ids=["park", "park_together"])
def test_two_transactions_parking_a_keyless_step_at_once_both_succeed_and_the_later_one_stays(
    database_url: str, engine: Engine, park_step: Callable[[Session, dict[str, object]], None]
) -> None:
    # Two tabs of one browser, each back from the provider, park the browser's one pending binding at
    # once: on PostgreSQL the second INSERT waits on the first's uncommitted row, then must not fail
    # on the unique (browser, kind, key) — that was a 500 for a person doing nothing wrong.
    factories = [build_sessionmaker(engine), build_sessionmaker(build_engine(database_url))]
    first_parked, errors = threading.Event(), []

    def first() -> None:
        with transaction(factories[0]) as db:
            park_step(db, {"tab": 1})
            first_parked.set()
            time.sleep(0.5)

    def second() -> None:
        first_parked.wait(10)
        with transaction(factories[1]) as db:
            park_step(db, {"tab": 2})

    def run(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as error:  # the assertion below names it
            errors.append(error)
            first_parked.set()

    threads = [threading.Thread(target=run, args=(step,)) for step in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    with factories[0]() as db:
        assert flow_state.peek(db, BROWSER, FlowKind.PENDING_BINDING) == {"tab": 2}
        pending = select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == FlowKind.PENDING_BINDING.value)
        assert db.scalar(pending) == 1


def test_taking_a_step_notes_a_live_keyless_step_of_another_kind_in_the_same_browser_only(
    db_factory: sessionmaker[Session],
) -> None:
    def take(key: str) -> tuple[dict[str, object] | None, bool]:
        with transaction(db_factory) as db:
            return flow_state.consume_noting(db, BROWSER, FlowKind.UPSTREAM, key=key, noting=FlowKind.LOCAL_PROOF)

    park(db_factory, key="state-1")
    with transaction(db_factory) as db:
        # Another browser's proof, and this browser's step of another kind, are not this browser's proof.
        flow_state.park(db, "c" * 43, FlowKind.LOCAL_PROOF, {"proof": 1}, ttl=TTL)
        flow_state.park(db, BROWSER, FlowKind.PENDING_BINDING, {"pending": 1}, ttl=TTL)
    assert take("state-1") == ({"n": 1}, False)
    # Taken once: the second take finds nothing, whatever rests beside it.
    assert take("state-1") == (None, False)

    park(db_factory, key="state-2")
    with transaction(db_factory) as db:
        flow_state.park(db, BROWSER, FlowKind.LOCAL_PROOF, {"proof": 1}, ttl=TTL)
    assert take("state-2") == ({"n": 1}, True)
    with transaction(db_factory) as db:
        # Only noted: the proof is still there.
        assert flow_state.peek(db, BROWSER, FlowKind.LOCAL_PROOF) == {"proof": 1}

    park(db_factory, key="state-3")
    with transaction(db_factory) as db:
        flow_state.park(db, BROWSER, FlowKind.LOCAL_PROOF, {"proof": 1}, ttl=TTL, now=utcnow() - 2 * TTL)
    # An expired proof is no proof.
    assert take("state-3") == ({"n": 1}, False)
