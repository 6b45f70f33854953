"""Parallel password guesses against one login, through real uvicorn servers on loopback.

The attacker opens the form once (one flow cookie, one CSRF token) and fires every guess at the
same instant from its own thread. Whatever the interleaving, the argon2 verifications actually
run must not exceed the login's budget: an attempt is reserved before the hash, not counted after.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.storage.database import build_engine
from bridge.storage.models import AuditEvent
from bridge.upstream.registry import UpstreamRegistry
from tests.support.factories import make_staff

GUESSES = 40
LIMIT = 5


@contextmanager
def served_bridge(settings: Settings) -> Iterator[str]:
    """One bridge node: its own engine and pool on the shared database, under uvicorn on a free port."""
    engine = build_engine(settings.database_url)
    runtime = build_runtime(settings, engine=engine, upstream=UpstreamRegistry())
    app = create_app(settings, runtime=runtime)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def count_argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Every argon2 verification made in this process, whichever module asks for it."""
    original = PasswordHasher.verify
    made = [0]
    lock = threading.Lock()

    def counting(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        with lock:
            made[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return lambda: made[0]


def fire_in_parallel(bases: list[str], logins: list[str], guesses: int) -> list[httpx.Response]:
    """Open the form once, then send every guess at the same moment, round-robin over nodes and logins."""
    with httpx.Client(base_url=bases[0], timeout=60) as opener:
        form = opener.get("/login/first")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        cookies = dict(opener.cookies)
    barrier = threading.Barrier(guesses)
    responses: list[httpx.Response | None] = [None] * guesses

    def guess(index: int) -> None:
        with httpx.Client(base_url=bases[index % len(bases)], cookies=cookies, timeout=60) as client:
            login = logins[index % len(logins)]
            data = {"csrf_token": token.group(1), "login": login, "password": f"Guess-{index}-Wrong", "next": ""}
            barrier.wait()
            responses[index] = client.post("/login/first", data=data)

    threads = [threading.Thread(target=guess, args=(index,)) for index in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(response is not None for response in responses)
    return [response for response in responses if response is not None]


@pytest.mark.parametrize("nodes", [1, 2], ids=["one_node", "two_nodes"])
@pytest.mark.parametrize("budget", ["login_address", "address"])
def test_parallel_guesses_cost_at_most_the_budget_in_argon2(
    settings: Settings, engine: Engine, nodes: int, budget: str, count_argon2_verifications: Callable[[], int]
) -> None:
    # Plain http on loopback: the flow cookie must not be Secure-only for this client.
    settings = replace(settings, public_url="http://127.0.0.1")
    if budget == "login_address":  # one login, guessed from one address
        settings = replace(settings, login_throttle_max_failures=LIMIT)
        people = 1
    else:  # one address spraying many logins
        settings = replace(settings, address_throttle_max_failures=LIMIT)
        people = GUESSES // 4
    with Session(engine) as db, db.begin():
        logins = [make_staff(db, password="Qw7!rtyPass9").login for _ in range(people)]

    with served_bridge(settings) as first, served_bridge(settings) as second:
        bases = [first, second][:nodes]
        before = count_argon2_verifications()
        responses = fire_in_parallel(bases, logins, GUESSES)
        verifications = count_argon2_verifications() - before

    print(f"\n{settings.database_url.split(':')[0]} {budget} nodes={nodes}: {verifications} argon2 verifications "
          f"for {GUESSES} parallel guesses (limit {LIMIT})")
    assert all(response.status_code == 400 for response in responses), [r.status_code for r in responses]
    refused = sum("Неверный логин или пароль" in response.text for response in responses)
    throttled = sum("Слишком много неудачных попыток" in response.text for response in responses)
    assert refused + throttled == GUESSES
    with Session(engine) as db:
        audited = db.scalars(select(AuditEvent.event).where(AuditEvent.event == "signin.password_refused")).all()
    assert verifications == refused == len(audited)
    assert verifications <= LIMIT
