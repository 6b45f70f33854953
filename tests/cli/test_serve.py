"""`bridge serve` on a real port: whose X-Forwarded-For it believes is ours to decide, not uvicorn's.

uvicorn's default (`proxy_headers=True`, trusting 127.0.0.1) would let anything on the host, or a
local proxy that passes the header through, name any client address. The test runs uvicorn with
exactly the arguments `bridge serve` gives it and speaks to it from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mail_sink.smtp import free_port
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bridge.cli.serve import register, run_serve
from bridge.config import Settings
from bridge.storage.models import AuditEvent, SigningKey


def serve_args(**overrides: Any) -> argparse.Namespace:
    """`bridge serve`'s arguments as its parser gives them, with `overrides`."""
    commands = argparse.ArgumentParser().add_subparsers()
    register(commands)
    parser = commands.choices["serve"]
    return argparse.Namespace(**{**vars(parser.parse_args([])), "port": 0, **overrides})


@contextmanager
def bridge_serve(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, **arguments: Any) -> Iterator[str]:
    """What `bridge serve --port 0` starts, on a free loopback port; yields its base URL."""
    captured: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(app=app, options=options))
    run_serve(serve_args(**arguments), Settings.from_environ(environ))
    options = {key: value for key, value in captured["options"].items() if key != "workers"}
    options = {**options, "log_level": "warning", "access_log": False}
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


def test_serve_freezes_its_start_up_heap_while_it_serves(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full collections scan what requests made, not the start-up heap (bridge.app.freeze_startup_heap)."""
    assert gc.get_freeze_count() == 0
    with bridge_serve({"BRIDGE_DATABASE_URL": database_url}, monkeypatch) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        frozen = gc.get_freeze_count()
    # The start-up heap of a process that imported the bridge, its routes, SQL and templates.
    assert frozen > 20_000
    assert gc.get_freeze_count() == 0


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


def test_serve_speaks_https_with_the_given_certificate(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if "sqlite" not in database_url:
        pytest.skip("the transport does not depend on the database")
    certfile, keyfile = self_signed(tmp_path)
    environ = {"BRIDGE_DATABASE_URL": database_url}
    with bridge_serve(environ, monkeypatch, ssl_certfile=str(certfile), ssl_keyfile=str(keyfile)) as base:
        https = base.replace("http://", "https://")
        trusting = ssl.create_default_context(cafile=str(certfile))
        assert httpx.get(f"{https}/healthz", verify=trusting).status_code == 200
        with pytest.raises(httpx.ConnectError):
            # Without the certificate's issuer among the trusted, the client refuses it: it is real TLS.
            httpx.get(f"{https}/healthz")


def test_serve_refuses_half_a_tls_configuration(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.from_environ({"BRIDGE_DATABASE_URL": database_url})
    assert run_serve(serve_args(ssl_certfile="cert.pem"), settings) == 2
    assert run_serve(serve_args(workers=0), settings) == 2
    assert "--ssl-keyfile" in capsys.readouterr().err


def test_several_workers_serve_and_share_one_signing_key(database_url: str, engine: Engine, tmp_path: Path) -> None:
    """`bridge serve --workers 2`: two processes start at once on one database; each makes sure a
    signing key exists, and still there is one active key per algorithm, which both publish."""
    if "sqlite" not in database_url:
        pytest.skip("one run shows it; the unique index is the same on both databases")
    port = free_port()
    environ = {**os.environ, "BRIDGE_DATABASE_URL": database_url, "BRIDGE_ENV": "test"}
    command = [str(Path(sys.executable).parent / "bridge"), "serve", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, env=environ, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (workers_up(server.pid) and answers(f"http://127.0.0.1:{port}/healthz")):
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        kids: set[str] = set()
        for _ in range(10):
            # New connections each time: both workers answer some of them.
            kids |= {key["kid"] for key in httpx.get(f"http://127.0.0.1:{port}/oidc/jwks").json()["keys"]}
    finally:
        server.terminate()
        server.wait(timeout=20)
    with Session(engine) as db:
        active = db.execute(select(SigningKey.alg, SigningKey.kid).where(SigningKey.retired_at.is_(None))).all()
    algs = [alg for alg, _ in active]
    assert len(algs) == len(set(algs)) >= 1
    assert kids == {kid for _, kid in active}


def workers_up(pid: int, count: int = 2) -> bool:
    """uvicorn's supervisor has `count` worker processes (where /proc says; elsewhere assume so)."""
    try:
        return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()) >= count
    except OSError:
        return True


def answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False
