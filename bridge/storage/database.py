"""Engine and session factory, built from Settings by whoever starts the process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bridge.blocking import WORKER_THREADS
from bridge.storage.outage import postgres_connect_args


def normalized_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


# Requests reach the database from the app's worker threads (bridge/blocking.py): one pooled
# connection per thread, so no request waits for a connection another thread holds idle and none is
# opened and closed per request; a few more for whatever runs outside them (a command, a test).
SPARE_CONNECTIONS = 4
# A writer waits this long for SQLite's lock before giving up (a bounded wait, not a hang).
SQLITE_BUSY_TIMEOUT_SECONDS = 5
# Server-side idle timeouts and failovers close connections: older ones are replaced on checkout.
RECYCLE_SECONDS = 1800


def build_engine(url: str, *, threads: int = WORKER_THREADS) -> Engine:
    """The engine for `url`, its pool sized to `threads` (the worker threads that use it).

    No pre-ping on checkout (a round trip before every transaction): a connection the server has
    dropped fails its first statement, SQLAlchemy recognises the disconnect (`is_disconnect`),
    discards that connection and every older one in the pool, and the unit of work may retry.
    """
    url = normalized_url(url)
    pool = {"pool_size": threads, "max_overflow": SPARE_CONNECTIONS, "pool_recycle": RECYCLE_SECONDS}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/", "sqlite://"):
            pool = {}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, connect_args=postgres_connect_args(), **pool)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit is durable against a
    # crash of the bridge, and a power loss may undo the last moments of commits (never corrupts
    # the file). docs/operations.md says so and what to choose instead.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def build_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def plain_transaction(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """`transaction` on a connection of the factory's engine, without an ORM session: for Core
    statements that load no object and audit nothing (no session's hooks have anything to do), at
    about half the cost. Commit on success, roll back on any error."""
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine), "a sessionmaker bound to an engine"
    with engine.begin() as connection:
        yield connection
