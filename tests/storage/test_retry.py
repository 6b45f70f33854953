"""A read whose connection is cut under it runs once more on a fresh one; nothing else is retried."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from bridge.storage.database import build_engine, build_sessionmaker
from bridge.storage.retry import retry_once_on_disconnect


def cut(database_url: str, pid: int) -> None:
    """What an administrator (or a PostgreSQL restart) does to one of the bridge's connections."""
    admin = build_engine(database_url)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_read_whose_connection_is_cut_runs_once_more(engine: Engine, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite connection cannot be cut from outside")
    factory = build_sessionmaker(engine)
    pids: list[int] = []

    def read() -> int:
        with factory() as db:
            pid = db.execute(text("SELECT pg_backend_pid()")).scalar_one()
            pids.append(pid)
            if len(pids) == 1:
                cut(database_url, pid)  # between the ping and the next statement
            return int(db.execute(text("SELECT count(*) FROM staff_members")).scalar_one())

    assert retry_once_on_disconnect(read) == 0
    assert len(pids) == 2 and pids[0] != pids[1]


def test_a_cut_connection_is_retried_once_only(engine: Engine, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite connection cannot be cut from outside")
    factory = build_sessionmaker(engine)
    calls = 0

    def always_cut() -> None:
        nonlocal calls
        calls += 1
        with factory() as db:
            cut(database_url, db.execute(text("SELECT pg_backend_pid()")).scalar_one())
            db.execute(text("SELECT 1"))

    with pytest.raises(DBAPIError) as raised:
        retry_once_on_disconnect(always_cut)
    assert raised.value.connection_invalidated and calls == 2


def test_other_database_errors_are_not_retried(engine: Engine) -> None:
    factory = build_sessionmaker(engine)
    calls = 0

    def wrong() -> None:
        nonlocal calls
        calls += 1
        with factory() as db:
            db.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError) as raised:
        retry_once_on_disconnect(wrong)
    assert not raised.value.connection_invalidated and calls == 1
    assert isinstance(raised.value, ProgrammingError) or "no such table" in str(raised.value)


def test_work_that_had_gone_past_its_reads_is_not_retried(engine: Engine, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite connection cannot be cut from outside")
    factory = build_sessionmaker(engine)
    calls, past_reads = 0, False

    def read_then_cut() -> None:
        nonlocal calls, past_reads
        calls += 1
        with factory() as db:
            pid = db.execute(text("SELECT pg_backend_pid()")).scalar_one()
            past_reads = True  # from here on the work would write
            cut(database_url, pid)
            db.execute(text("SELECT 1"))

    with pytest.raises(DBAPIError) as raised:
        retry_once_on_disconnect(read_then_cut, still_safe=lambda: not past_reads)
    assert raised.value.connection_invalidated and calls == 1
