"""Activation links on both databases: hashed, single-use under real concurrency, expiring, revocable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.activation_links import (
    LinkState,
    check_activation_link,
    issue_activation_link,
    revoke_activation_links,
    take_activation_link,
)
from bridge.storage.database import transaction
from bridge.storage.models import ActivationLink, StaffMember
from bridge.storage.types import utcnow


def _person(db_factory: sessionmaker[Session], login: str = "ivanova") -> int:
    with transaction(db_factory) as db:
        staff = StaffMember(surname="Иванова", name="Анна", patronymic="Петровна", login=login)
        db.add(staff)
        db.flush()
        return staff.id


def test_a_link_is_stored_only_as_a_hash_and_carries_256_bits(db_factory: sessionmaker[Session]) -> None:
    staff_id = _person(db_factory)
    with transaction(db_factory) as db:
        issued = issue_activation_link(db, staff_id, "ivanova@school.test")
    assert len(issued.token) >= 43  # 32 random bytes, base64url
    assert issued.token not in repr(issued)
    with db_factory() as db:
        stored = db.scalars(select(ActivationLink)).one()
        assert issued.token not in (stored.token_hash, stored.email)
        assert stored.expires_at - stored.created_at == timedelta(hours=72)
        assert check_activation_link(db, issued.token).state is LinkState.USABLE
        assert check_activation_link(db, issued.token[:-1] + "x").state is LinkState.UNKNOWN
        assert check_activation_link(db, "").state is LinkState.UNKNOWN


def test_parallel_bindings_through_one_link_have_exactly_one_winner(db_factory: sessionmaker[Session]) -> None:
    staff_id = _person(db_factory)
    with transaction(db_factory) as db:
        issued = issue_activation_link(db, staff_id, "ivanova@school.test")
    start = threading.Barrier(8)

    def take(_: int) -> bool:
        start.wait()
        with transaction(db_factory) as db:
            return take_activation_link(db, issued.link_id, staff_id)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(take, range(8)))
    assert results.count(True) == 1
    with db_factory() as db:
        assert check_activation_link(db, issued.token).state is LinkState.USED


def test_a_link_cannot_be_taken_for_another_person_after_expiry_or_once_superseded(
    db_factory: sessionmaker[Session],
) -> None:
    staff_id = _person(db_factory)
    other_id = _person(db_factory, "petrov")
    with transaction(db_factory) as db:
        first = issue_activation_link(db, staff_id, "ivanova@school.test")
        assert not take_activation_link(db, first.link_id, other_id)
        # A newer link supersedes the older one.
        second = issue_activation_link(db, staff_id, "ivanova@school.test")
        assert check_activation_link(db, first.token).state is LinkState.REVOKED
        assert not take_activation_link(db, first.link_id, staff_id)
        # Expired by the clock of the taker.
        assert check_activation_link(db, second.token, now=utcnow() + timedelta(hours=73)).state is LinkState.EXPIRED
        assert not take_activation_link(db, second.link_id, staff_id, now=utcnow() + timedelta(hours=73))
        # A reset or a block revokes what is left.
        assert revoke_activation_links(db, staff_id) == 1
        assert not take_activation_link(db, second.link_id, staff_id)
