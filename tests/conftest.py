"""Shared fixtures: every storage-touching test runs on SQLite and on the real PostgreSQL.

PostgreSQL gets a private database per test run (so parallel runs never collide), migrated
once with Alembic; each test then starts from empty tables. SQLite is migrated once into a
template file that each test copies.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

# Authlib puts an "always" filter for its deprecation warnings first when this module loads; loaded
# here, before collection, pyproject's `filterwarnings` entries go in front of it and apply.
import authlib.deprecate  # noqa: F401
import pytest
from aiosmtpd.controller import Controller
from mail_sink.smtp import free_port, smtp_controller
from mail_sink.store import Mailbox
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.cli.main import main
from bridge.config import Secret, Settings
from bridge.runtime import BridgeRuntime, build_runtime
from bridge.services import signing_keys
from bridge.services.audit_settings import configure_audit
from bridge.services.housekeeping import HousekeepingSettings
from bridge.storage.database import build_engine, build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade
from bridge.storage.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "BRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = build_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test run."""
    admin = create_engine(normalized_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = build_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # The audit tables refuse TRUNCATE through triggers; replica mode fires none (superuser only).
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # As a fresh migration leaves it: the audit chain's head at seq 0.
        connection.execute(text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64))"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bridge.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    engine = build_engine(url)
    _empty_postgres(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_factory(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    """Sessions configured as the running bridge's are: audit anchors signed under the test keyring."""
    return configure_audit(build_sessionmaker(engine), settings.audit, settings.signing_keys.policy(settings).keyring)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key=Secret("test-secret-key-" + "x" * 32),
        database_url=database_url,
        public_url="https://bridge.test",
        # No background purge racing a test's deliberately expired rows (tests/services/test_housekeeping.py
        # runs the purge itself).
        housekeeping=HousekeepingSettings(interval=None),
    )


@pytest.fixture
def runtime(settings: Settings, engine: Engine) -> Iterator[BridgeRuntime]:
    runtime = build_runtime(settings, engine=engine)
    yield runtime
    # The engine fixture disposes the engine; the HTTP client closes with its transport.


@pytest.fixture
def app(settings: Settings, runtime: BridgeRuntime) -> Starlette:
    return create_app(settings, runtime=runtime)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://bridge.test") as test_client:
        yield test_client


class _RsaKeyPool:
    """Real RSA keys, generated once per run and handed out again to each test's fresh database."""

    def __init__(self) -> None:
        self.keys: list[dict[str, object]] = []

    def take(self, index: int, generate: Callable[[str], dict[str, object]]) -> dict[str, object]:
        while len(self.keys) <= index:
            self.keys.append(generate("RS256"))
        return dict(self.keys[index])


@pytest.fixture(scope="session")
def rsa_key_pool() -> _RsaKeyPool:
    return _RsaKeyPool()


@pytest.fixture(autouse=True)
def reused_rsa_keys(monkeypatch: pytest.MonkeyPatch, rsa_key_pool: _RsaKeyPool) -> None:
    """The OP keeps an RS256 key beside its ES256 one; making one costs ~0.2 s, and every test
    starts from an empty database. Within a test each new key is still a different key."""
    original = signing_keys.generate_private_jwk
    counter = itertools.count()

    def generate(alg: str) -> dict[str, object]:
        return rsa_key_pool.take(next(counter), original) if alg == "RS256" else original(alg)

    monkeypatch.setattr(signing_keys, "generate_private_jwk", generate)


@pytest.fixture
def bridge_cli(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """The `bridge` command in-process against this test's database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("BRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", str(settings.secret_key))

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- the mail sink (tests send through real SMTP on loopback and read what arrived) ---------------


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sink(mailbox: Mailbox, smtp_port: int) -> Iterator[Controller]:
    """An SMTP server on loopback (`smtp_port`) that keeps every message in `mailbox`."""
    controller = smtp_controller(mailbox, port=smtp_port)
    controller.start()
    yield controller
    controller.stop()
