"""docker-compose.yml runs as shipped: the file is valid and complete, and the bridge's container command
(`bridge start`) waits for its database, migrates, is seeded by the demo-data step and serves.

Where a Docker daemon with the compose plugin exists, `docker compose config` validates the file; this
machine's CI has none, so the file is read as YAML and checked for what `up` needs. The container
command is then run as it is written there, outside Docker, against SQLite and a PostgreSQL database
that does not exist yet when the bridge starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mail_sink.smtp import free_port
from sqlalchemy import create_engine, text

from bridge.storage.database import normalized_url
from bridge.upstream.configuration import load_providers_file
from tests.conftest import POSTGRES_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def with_defaults(value: str) -> str:
    """`${NAME:-default}` as compose resolves it when NAME is not set."""
    return DEFAULT.sub(lambda match: match.group(2), value)


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose here: the YAML checks below stand in")
    done = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_stand_has_every_service_with_ports_and_health() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "bridge", "idp-mock", "mailpit", "demo-data"}
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert "8025:8025" in services["mailpit"]["ports"]
    assert {"8000:8000", "9000:9000"} <= set(services["bridge"]["ports"])
    assert services["idp-mock"]["network_mode"] == "service:bridge"
    for name in ("postgres", "bridge"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["bridge"]["healthcheck"]["test"])
    assert services["demo-data"]["depends_on"]["bridge"]["condition"] == "service_healthy"
    assert services["bridge"]["command"][:2] == ["bridge", "start"]
    assert services["bridge"]["build"]["target"] == "bridge" and services["idp-mock"]["build"]["target"] == "idp-mock"


def test_nothing_has_to_be_set_before_up() -> None:
    """`${NAME:?message}` would stop `docker compose up` on a clean clone."""
    assert ":?" not in COMPOSE.read_text(encoding="utf-8")


def test_the_shipped_providers_file_is_the_default_and_is_valid() -> None:
    environment = compose()["services"]["bridge"]["environment"]
    in_container = Path(with_defaults(environment["BRIDGE_PROVIDERS_FILE"]))
    assert in_container.parent == Path("/config")
    shipped = ROOT / "config" / in_container.name
    registry = load_providers_file(shipped)
    assert [provider.key for provider in registry] == ["rsaa"]


def test_the_images_install_from_the_hashed_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for lock in ("requirements/bridge.txt", "requirements/idp-mock.txt", "requirements/build.txt"):
        assert lock in dockerfile and (ROOT / lock).is_file()
    assert dockerfile.count("--require-hashes") == 3
    assert 'CMD ["bridge", "start"' in dockerfile
    for target in ("AS bridge", "AS idp-mock"):
        assert target in dockerfile


# --- the container's command, outside Docker -----------------------------------------------------------



def container_environment(database_url: str) -> dict[str, str]:
    """The bridge service's environment with compose's defaults, the database and config paths of this run."""
    declared = compose()["services"]["bridge"]["environment"].items()
    environment = {name: with_defaults(str(value)) for name, value in declared}
    # No mail sink named `mailpit` outside compose's network: letters wait in the outbox instead.
    for name in ("BRIDGE_SMTP_HOST", "BRIDGE_SMTP_PORT", "BRIDGE_SMTP_SECURITY"):
        environment.pop(name)
    environment["BRIDGE_DATABASE_URL"] = database_url
    environment["BRIDGE_PROVIDERS_FILE"] = str(ROOT / "config" / Path(environment["BRIDGE_PROVIDERS_FILE"]).name)
    return {**os.environ, **environment, "PYTHONUNBUFFERED": "1"}


def container_command(port: int) -> list[str]:
    command = [str(part) for part in compose()["services"]["bridge"]["command"]]
    assert command[0] == "bridge"
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    return [sys.executable, "-m", "bridge.cli.main", *command[1:]]


@pytest.fixture(params=["sqlite", "postgresql"])
def pending_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A database URL whose database does not exist yet, and a callable that creates it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stand.db'}", lambda: None
        return
    admin = create_engine(normalized_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"bridge_stand_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect():
            pass
    except Exception as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable: {error.__class__.__name__}")

    def create() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))

    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False), create
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_container_command_waits_migrates_is_seeded_and_serves(
    pending_database: tuple[str, Any], tmp_path: Path
) -> None:
    database_url, create_database = pending_database
    port = free_port()
    environment = container_environment(database_url)
    log = tmp_path / "bridge.log"
    with log.open("wb") as output:
        bridge = subprocess.Popen(
            container_command(port), stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path, env=environment
        )
    try:
        if not database_url.startswith("sqlite"):
            time.sleep(3)  # the database is not there yet: the bridge waits, it does not exit
            assert bridge.poll() is None, log.read_text(encoding="utf-8")
            assert "Ожидание базы данных" in log.read_text(encoding="utf-8")
            create_database()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert bridge.poll() is None, log.read_text(encoding="utf-8")[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.2)
        assert "Схема базы данных обновлена" in log.read_text(encoding="utf-8")

        seeded = subprocess.run(
            [sys.executable, str(ROOT / "config" / "seed_demo.py")], capture_output=True, text=True, env=environment,
            cwd=tmp_path, timeout=120,
        )
        assert seeded.returncode == 0, seeded.stderr
        assert "логин morozov" in seeded.stdout
        again = subprocess.run(
            [sys.executable, str(ROOT / "config" / "seed_demo.py")], capture_output=True, text=True, env=environment,
            cwd=tmp_path, timeout=120,
        )
        assert "ничего не изменено" in again.stdout

        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        # Nothing listens on the stand's idp-mock port here: reported, not a reason to leave the balancer.
        assert ready.json()["upstream"] == {"rsaa": "unreachable"}
        login = httpx.get(f"{url}/login", timeout=10)
        assert login.status_code == 200 and "РСАА" in login.text
    finally:
        bridge.terminate()
        bridge.wait(timeout=20)
