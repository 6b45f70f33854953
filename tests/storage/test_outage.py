"""Which database errors are an outage (503) and which stay a bug (500); the lock timeout PostgreSQL gets."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bridge.storage.outage import POSTGRES_LOCK_TIMEOUT, is_outage


class FakePgError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("pg")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["08006", "57P01", "55P03", "40P01", "53300", "57014"])
def test_postgresql_outages(sqlstate: str) -> None:
    assert is_outage(OperationalError("SELECT 1", {}, FakePgError(sqlstate)))


def test_a_dropped_connection_and_a_pool_timeout_are_outages() -> None:
    assert is_outage(OperationalError("SELECT 1", {}, FakePgError(None)))
    assert is_outage(PoolTimeoutError("QueuePool limit reached"))
    assert is_outage(OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")))


def test_bugs_stay_bugs() -> None:
    assert not is_outage(IntegrityError("INSERT", {}, FakePgError("23505")))
    assert not is_outage(ProgrammingError("SELECT", {}, FakePgError("42P01")))
    assert not is_outage(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: staff_members")))
    assert not is_outage(ValueError("not a database error"))


def test_postgresql_connections_wait_for_a_lock_at_most_the_lock_timeout(engine: Engine, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's lock_timeout (SQLite's busy timeout is the engine's own setting)")
    with engine.connect() as connection:
        assert connection.execute(text("SHOW lock_timeout")).scalar_one() == POSTGRES_LOCK_TIMEOUT
