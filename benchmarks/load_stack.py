"""The processes benchmarks/signin_load.py measures: `bridge serve` and `idp-mock` on loopback, seeded.

The bridge runs as operators run it (`bridge serve`, uvicorn), pinned to core 0 with taskset when
the machine has more than one; the mock provider and the load driver share the other cores. The
database is seeded directly (organization, staff cards holding one issued password, a relying
app); binding the people to their provider accounts is left to the pages (signin_load.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from mail_sink.smtp import free_ports

from benchmarks.load_browser import Person, RelyingApp
from benchmarks.peer_server import answers
from bridge.services.clients import register_client
from bridge.services.passwords import hash_password
from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.database import build_engine, build_sessionmaker, transaction
from bridge.storage.migrate import upgrade
from bridge.storage.models import Organization, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

PASSWORD = "Bench-Pass-7!q"  # noqa: S105 - the seeded staff's issued password, loopback only
APP_REDIRECT = "https://app.bench/callback"
BIN = Path(sys.executable).parent



def pinned(command: list[str], cores: str | None) -> list[str]:
    return ["taskset", "-c", cores, *command] if cores and shutil.which("taskset") else command


@dataclass
class Stack:
    folder: Path
    bridge_url: str
    mock_url: str
    database_url: str
    app: RelyingApp
    people: list[Person]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def server_pid(self) -> int:
        return self.processes[0].pid

    def stop_server(self) -> None:
        """The bridge only: a peer is then measured on its core with the mock still up."""
        self.processes[0].terminate()
        try:
            self.processes[0].wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.processes[0].kill()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _snils(index: int) -> str:
    digits = f"{100_000_000 + index:09d}"
    total = sum(int(digit) * (9 - position) for position, digit in enumerate(digits))
    check = total if total < 100 else (0 if total in (100, 101) else total % 101 % 100)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]} {check:02d}"


def _mock_person(index: int) -> dict[str, object]:
    digits = f"{index:06d}"
    return {
        "oid": f"20{digits}", "last_name": f"Нагрузкин{index}", "first_name": "Тест", "middle_name": "Иванович",
        "birth_date": "1980-01-01", "gender": "M", "snils": _snils(index), "inn": None,
        "email": f"bench{index}@school.bench", "mobile": f"+7(900)1{digits}", "trusted": True,
        "rsaa": {"sub": f"rsaa-bench-{digits}", "company": "Школа", "department": "Учителя", "position": "Учитель"},
        "organizations": [],
    }


def seed(database_url: str, people: int, past_sessions: int) -> tuple[RelyingApp, list[Person], str]:
    """Staff cards for `people` persons (one password hash shared: seeding is not what is measured)."""
    engine = build_engine(database_url)
    upgrade(engine)
    factory = build_sessionmaker(engine)
    password_hash = hash_password(PASSWORD)
    now = utcnow()
    secret_key = secrets.token_urlsafe(48)
    from bridge.config import Secret

    keys = SessionKeys.of(Secret(secret_key))
    with transaction(factory) as db:
        school = Organization(name="МБОУ СОШ № 7 (нагрузка)", kind=OrganizationKind.SCHOOL.value, district="Тестовый")
        db.add(school)
        db.flush()
        staff_rows = []
        for index in range(people):
            staff = StaffMember(
                surname=f"Нагрузкин{index}", name="Тест", patronymic="Иванович", login=f"bench{index}",
                password_hash=password_hash, credential_issued_at=now, credential_expires_at=now + timedelta(days=30),
                email=f"bench{index}@school.bench",
            )
            db.add(staff)
            staff_rows.append(staff)
        db.flush()
        for staff in staff_rows:
            db.add(RoleAssignment(
                staff_id=staff.id, organization_id=school.id, role=Role.SCHOOL_DEPUTY.value,
                start_date=date.today() - timedelta(days=1), position="учитель",
            ))
        for _ in range(past_sessions):
            # A long history for the first person: what a year of sign-ins without a bridge cookie leaves.
            start_signin_session(db, staff_rows[0], keys=keys, provider="rsaa", amr=["fed"], acr=None,
                                 lifetime=timedelta(hours=12), remember=False)
        registered = register_client(
            db, Secret(secret_key), name="Нагрузка", client_id="bench-app", redirect_uris=[APP_REDIRECT],
            scope="openid profile email roles",
        )
    engine.dispose()
    assert registered.client_secret is not None
    app = RelyingApp(bridge_url="", client_id="bench-app", client_secret=registered.client_secret,
                     redirect_uri=APP_REDIRECT)
    persons = [Person(f"bench{i}", PASSWORD, f"bench{i}@school.bench") for i in range(people)]
    return app, persons, secret_key


def start(folder: Path, database_url: str, *, people: int, past_sessions: int, workers: int,
          server_cores: str | None, other_cores: str | None, mock_clients: Path | None = None) -> Stack:
    """`people` staff and matching test persons (the first binds at РСАА, the rest as the caller likes).

    `mock_clients`: a clients file the mock registers besides the bridge's (idp-mock --clients), for a
    peer that brokers to the same mock (benchmarks/satosa_peer.py).
    """
    from bridge_demo.stack import demo_esia_private_key
    from gost_jws import GostPrivateKey, export_private, export_public
    from idp_mock.config import DEMO_CLIENT_ID, DEMO_RSAA_SECRET

    app, persons, secret_key = seed(database_url, people, past_sessions)
    bridge_port, mock_port = free_ports(2)
    # Different host names, so the browser's cookies for each are told apart.
    bridge_url, mock_url = f"http://127.0.0.1:{bridge_port}", f"http://localhost:{mock_port}"
    esia_key = GostPrivateKey.generate()
    (folder / "esia-signing.json").write_text(export_private(esia_key), encoding="utf-8")
    (folder / "esia-provider.json").write_text(export_public(esia_key), encoding="utf-8")
    (folder / "esia-client.json").write_text(demo_esia_private_key(), encoding="utf-8")
    (folder / "persons.json").write_text(
        json.dumps({"password": "Test-12345", "persons": [_mock_person(i) for i in range(people)]}, ensure_ascii=False),
        encoding="utf-8",
    )
    (folder / "providers.toml").write_text(f"""
[[provider]]
key = "esia"
kind = "esia"
title = "Госуслуги"
base_url = "{mock_url}/esia"
issuer = "{mock_url}/esia/"
client_id = "{DEMO_CLIENT_ID}"
scope = "openid fullname snils email"
client_key_file = "esia-client.json"
provider_key_file = "esia-provider.json"

[[provider]]
key = "rsaa"
kind = "oidc"
title = "РСАА"
issuer = "{mock_url}/rsaa"
client_id = "{DEMO_CLIENT_ID}"
client_secret = "{DEMO_RSAA_SECRET}"
auth_method = "client_secret_basic"
scope = "openid profile email"
""", encoding="utf-8")
    env = {
        **os.environ,
        "BRIDGE_ENV": "benchmark", "BRIDGE_SECRET_KEY": secret_key, "BRIDGE_DATABASE_URL": database_url,
        "BRIDGE_PUBLIC_URL": bridge_url, "BRIDGE_PROVIDERS_FILE": str(folder / "providers.toml"),
    }
    serve = [str(BIN / "bridge"), "serve", "--host", "127.0.0.1", "--port", str(bridge_port)]
    if workers > 1:
        serve += ["--workers", str(workers)]
    mock = [str(BIN / "idp-mock"), "--host", "127.0.0.1", "--port", str(mock_port), "--public-url", mock_url,
            "--persons", str(folder / "persons.json"), "--demo-bridge-url", bridge_url,
            "--esia-key", str(folder / "esia-signing.json")]
    if mock_clients:
        mock += ["--clients", str(mock_clients)]
    log = (folder / "server.log").open("wb")
    stack = Stack(folder, bridge_url, mock_url, database_url, RelyingApp(
        bridge_url=bridge_url, client_id=app.client_id, client_secret=app.client_secret,
        redirect_uri=app.redirect_uri), persons)
    # Our own entry points from this virtualenv, with arguments built here.
    stack.processes.append(subprocess.Popen(pinned(serve, server_cores), env=env, stdout=log, stderr=log))  # noqa: S603
    stack.processes.append(subprocess.Popen(pinned(mock, other_cores), stdout=log, stderr=log))  # noqa: S603
    for url in (f"{bridge_url}/healthz", f"{mock_url}/rsaa/.well-known/openid-configuration"):
        _wait_for(url, stack)
    return stack


def _wait_for(url: str, stack: Stack, timeout: float = 60) -> None:
    if answers(url, lambda: all(process.poll() is None for process in stack.processes), timeout):
        return
    stack.stop()
    raise SystemExit(f"{url} did not come up; see {stack.folder / 'server.log'}:\n"
                     + (stack.folder / "server.log").read_text(errors="replace")[-3000:])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for current in _process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def loop_cpu_wait_seconds(pid: int) -> float | None:
    """How long the main threads of a process and its descendants (the event loops) were ready to run
    but waited for a CPU (the kernel's run-queue delay, /proc/…/schedstat); None where not reported.

    A probe's latency on a shared machine is mostly this: the loop is runnable while other processes
    (or the server's own worker threads) hold the core.
    """
    total, seen = 0.0, False
    for current in _process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/task/{current}/schedstat").read_text().split()
        except OSError:
            continue
        total, seen = total + int(fields[1]) / 1e9, True
    return total if seen else None


def _process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
    return found


class BackendCpu:
    """User + system CPU of one PostgreSQL database's client backends (s), from /proc: the database
    server's work for whichever server is measured, which cpu_seconds does not count (the backends
    are the postmaster's children, not the server's).

    The backends are those pg_stat_activity lists for the database, asked over a connection to the
    `postgres` database (not counted). Works where PostgreSQL runs on this machine and its /proc is
    readable; `available` says whether it does.
    """

    def __init__(self, url: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        target = make_url(url)
        self.database = target.database
        self._connection = psycopg.connect(
            host=target.host or "127.0.0.1", port=target.port or 5432, user=target.username,
            password=target.password, dbname="postgres", autocommit=True,
        )

    def snapshot(self) -> dict[int, float] | None:
        """CPU seconds so far of each of the database's client backends; None when /proc has none of them."""
        pids = [row[0] for row in self._connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (self.database,),
        )]
        ticks = os.sysconf("SC_CLK_TCK")
        found: dict[int, float] = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return found if found or not pids else None

    @staticmethod
    def spent(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        """CPU the backends spent between two snapshots (a backend started meanwhile: all of its CPU;
        one that ended meanwhile is lost, which the pools' long-lived connections make rare)."""
        if before is None or after is None:
            return None
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self) -> None:
        self._connection.close()
