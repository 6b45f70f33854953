"""A database that cannot be had answers 503 with Retry-After — a Russian page or OAuth's JSON — never a 500,
and the bridge serves again as soon as it is back: a lock held past the lock timeout, connections cut
by the administrator (pg_terminate_backend)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.storage.database import build_engine, normalized_url
from tests.support.html_forms import read_forms

# Short waits, so that the test does not sit out the production timeouts (5 s on PostgreSQL).
SHORT_LOCK_WAIT = 0.3


def short_wait_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SHORT_LOCK_WAIT})

        @event.listens_for(engine, "connect")
        def pragmas(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")

        return engine
    return create_engine(
        normalized_url(url), pool_pre_ping=True,
        connect_args={"options": f"-c lock_timeout={int(SHORT_LOCK_WAIT * 1000)}ms"},
    )


@pytest.fixture
def bridge(settings: Settings, database_url: str) -> Iterator[TestClient]:
    engine = short_wait_engine(database_url)
    runtime = build_runtime(settings, engine=engine)
    with TestClient(create_app(settings, runtime=runtime), base_url="https://bridge.test") as client:
        yield client
    engine.dispose()


@contextmanager
def lock_held(database_url: str) -> Iterator[None]:
    """Another session holds what a password attempt and a token request need, until the block ends."""
    if database_url.startswith("sqlite"):
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite's one writer: every other write waits, then fails
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = build_engine(database_url)
    with engine.connect() as other, other.begin():
        other.execute(text("LOCK TABLE throttle_counters, oauth_clients, audit_chain_head IN ACCESS EXCLUSIVE MODE"))
        yield
    engine.dispose()


def try_password(client: TestClient) -> Any:
    page = client.get("/login/first")
    [form] = [form for form in read_forms(page.text) if "password" in form.fields]
    return client.post(form.action, data={**form.fields, "login": "nobody", "password": "wrong"})


def ask_for_token(client: TestClient) -> Any:
    return client.post(
        "/oidc/token", data={"grant_type": "authorization_code", "code": "x" * 20, "redirect_uri": "https://app.test/cb"},
        auth=("some-app", "some-secret"),
    )


def test_a_lock_not_granted_in_time_is_503_then_the_bridge_recovers(bridge: TestClient, database_url: str) -> None:
    assert try_password(bridge).status_code == 400  # refused as usual: the database answers
    with lock_held(database_url):
        page = try_password(bridge)
        assert page.status_code == 503
        assert page.headers["retry-after"] == "5"
        assert "Сервис временно недоступен" in page.text and "Traceback" not in page.text
        token = ask_for_token(bridge)
        assert token.status_code == 503, token.text
        assert token.json()["error"] == "temporarily_unavailable"
        assert token.headers["retry-after"] == "5"
    assert try_password(bridge).status_code == 400
    assert ask_for_token(bridge).json()["error"] == "invalid_client"


def test_connections_cut_by_the_administrator_are_replaced(bridge: TestClient, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pg_terminate_backend")
    assert try_password(bridge).status_code == 400
    admin = build_engine(database_url)
    with admin.connect() as connection:
        cut = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert cut >= 1, "the bridge had no connection to cut"
    # The pool's dead connections are found by the ping before use: the people never notice.
    assert bridge.get("/readyz").status_code == 200
    assert try_password(bridge).status_code == 400
    assert ask_for_token(bridge).json()["error"] == "invalid_client"


def test_a_database_that_is_gone_is_503_on_pages_and_oauth(settings: Settings) -> None:
    gone = replace(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    engine = build_engine(gone.database_url)
    runtime = build_runtime(gone, engine=engine)
    # No lifespan: it would make keys in the missing database; the routes are what is tested.
    client = TestClient(create_app(gone, runtime=runtime), base_url="https://bridge.test")
    page = try_password(client)
    assert page.status_code == 503 and "Сервис временно недоступен" in page.text
    assert ask_for_token(client).json()["error"] == "temporarily_unavailable"
    engine.dispose()
