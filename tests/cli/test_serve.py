"""`bridge serve` on a real port: whose X-Forwarded-For it believes is ours to decide, not uvicorn's.

uvicorn's default (`proxy_headers=True`, trusting 127.0.0.1) would let anything on the host, or a
local proxy that passes the header through, name any client address. The test runs uvicorn with
exactly the arguments `bridge serve` gives it and speaks to it from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bridge.cli.serve import run_serve
from bridge.config import Settings
from bridge.storage.models import AuditEvent


@contextmanager
def bridge_serve(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """What `bridge serve --port 0` starts, on a free loopback port; yields its base URL."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(app=app, options=options))
    run_serve(argparse.Namespace(host="127.0.0.1", port=0), Settings.from_environ(environ))
    options = {**captured["options"], "log_level": "warning", "access_log": False}
    server = uvicorn.Server(uvicorn.Config(captured["app"], **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wrong_password_from(base: str, forwarded_for: str) -> None:
    with httpx.Client(base_url=base, headers={"X-Forwarded-For": forwarded_for}) as browser:
        form = browser.get("/login/first")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        page = browser.post(
            "/login/first", data={"csrf_token": token.group(1), "login": "nobody", "password": "x", "next": ""}
        )
        assert page.status_code == 400


def refused_addresses(engine: Engine) -> list[str | None]:
    with Session(engine) as db:
        return list(db.scalars(select(AuditEvent.address).where(AuditEvent.event == "signin.password_refused")))


@pytest.mark.parametrize(
    ("trusted", "seen"), [("", "127.0.0.1"), ("10.0.0.0/8", "127.0.0.1"), ("127.0.0.0/8, ::1", "198.51.100.7")]
)
def test_serve_believes_forwarded_for_only_from_configured_proxies(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, trusted: str, seen: str
) -> None:
    environ = {"BRIDGE_DATABASE_URL": database_url, "BRIDGE_TRUSTED_PROXIES": trusted}
    with bridge_serve(environ, monkeypatch) as base:
        wrong_password_from(base, "198.51.100.7")
    assert refused_addresses(engine) == [seen]
