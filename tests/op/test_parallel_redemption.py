"""Truly parallel token requests: the bridge under uvicorn on loopback, hit by threads at once.

Each request's database work runs in the server's worker threads, so the transactions really
interleave (on SQLite through its write lock, on PostgreSQL through row locks). Exactly one of
the redemptions of a code, or of the uses of a refresh token, may win; the others are reuse, so
the grant is revoked afterwards and everything issued from it is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.models import AuditEvent, OAuthGrant, RefreshToken
from tests.op.conftest import App, Person, authorization_request, get_code, signed_in_tokens
from tests.support.browser import sign_in_browser

RACERS = 8


@pytest.fixture
def served(app: Starlette) -> Iterator[str]:
    """The same bridge (same runtime and database) under uvicorn on a free loopback port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def race(base_url: str, request: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """RACERS threads, each with its own connection, released at the same instant."""
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=60) as http:
                http.get("/healthz")  # connect first, so the barrier releases requests, not handshakes
                barrier.wait(timeout=30)
                answer = request(http)
            with lock:
                answers.append(answer)
        except BaseException as error:
            with lock:
                failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(answers) == RACERS
    return answers


def _token_form(app: App, **form: str) -> dict[str, Any]:
    return {"data": form, "auth": (app.client_id, app.client_secret)}


def _assert_one_winner(answers: list[httpx.Response]) -> dict[str, Any]:
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * (RACERS - 1), [answer.text for answer in answers]
    assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code == 400)
    winner: dict[str, Any] = next(answer.json() for answer in answers if answer.status_code == 200)
    return winner


def _userinfo_status(client: TestClient, access_token: str) -> int:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_parallel_redemptions_of_one_code_have_exactly_one_winner(
    served: str, client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    form = _token_form(
        confidential_app, grant_type="authorization_code", code=code, redirect_uri=confidential_app.redirect_uri,
        code_verifier=request.verifier,
    )
    winner = _assert_one_winner(race(served, lambda http: http.post("/oidc/token", **form)))

    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(OAuthGrant)) == 1
        assert db.scalar(select(func.count()).select_from(RefreshToken)) == 1
        issued = db.scalar(select(func.count()).where(AuditEvent.event == "oidc.token.issued"))
        refused = db.scalar(select(func.count()).where(AuditEvent.event == "oidc.token.refused"))
    assert (issued, refused) == (1, RACERS - 1)
    # The losers were reuse: the winner's grant is revoked, its tokens recalled.
    assert _userinfo_status(client, winner["access_token"]) == 401
    with db_factory() as db:
        assert db.scalars(select(OAuthGrant.revoked_at)).one() is not None
        assert db.scalars(select(RefreshToken.revoked_at)).one() is not None


def test_parallel_uses_of_one_refresh_token_have_exactly_one_winner(
    served: str, client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    form = _token_form(confidential_app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    winner = _assert_one_winner(race(served, lambda http: http.post("/oidc/token", **form)))

    # One rotation happened; the losers' reuse then revoked the whole family and the grant.
    with db_factory() as db:
        rows = db.scalars(select(RefreshToken)).all()
        assert len(rows) == 2
        assert all(row.revoked_at is not None for row in rows)
        assert db.scalars(select(OAuthGrant.revoked_at)).one() is not None
    refreshed = client.post(
        "/oidc/token", data={"grant_type": "refresh_token", "refresh_token": winner["refresh_token"]},
        auth=(confidential_app.client_id, confidential_app.client_secret or ""),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert _userinfo_status(client, winner["access_token"]) == 401
    assert _userinfo_status(client, tokens["access_token"]) == 401


def test_a_refresh_takes_its_grant_before_its_token_so_racing_revokers_never_deadlock(
    served: str, client: TestClient, settings: Settings, engine: Engine, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    """Lock order, deterministically: while another transaction holds the grant (as a revoking
    loser does before it reaches the tokens), a refresh waits and has locked no token yet.

    Taking the token first (the old order) let a loser's failed claim hold the token's row lock
    while it waited for the grant another loser held, who waited for that token: a deadlock,
    which PostgreSQL answered by failing one request with a 500.
    """
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite serialises every writer on the whole database")
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    form = _token_form(confidential_app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    answers: list[httpx.Response] = []

    with engine.connect() as holder:
        holder.execute(text("SELECT id FROM oauth_grants FOR UPDATE"))
        refresher = threading.Thread(
            target=lambda: answers.append(httpx.post(f"{served}/oidc/token", timeout=60, **form))
        )
        refresher.start()
        refresher.join(timeout=1.0)
        assert refresher.is_alive(), "the refresh went ahead while its grant was locked elsewhere"
        with engine.connect() as probe:
            # The token the refresh is about to rotate is not locked yet (NOWAIT would fail).
            probe.execute(text("SET lock_timeout = '100ms'"))
            probe.execute(text("SELECT id FROM refresh_tokens FOR UPDATE NOWAIT"))
            probe.rollback()
        holder.rollback()
    refresher.join(timeout=30)
    assert [answer.status_code for answer in answers] == [200]
