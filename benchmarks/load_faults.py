"""Load and faults: the real `bridge serve` on PostgreSQL with `idp-mock` on loopback, sign-ins through РСАА.

A private PostgreSQL database is made (and dropped at the end); people are made in the mock and in
the bridge, a pool of them bound through the pages. Then, each a phase at a concurrency:

- burst: N returning sign-ins and M first sign-ins (binding through the issued password);
- idp_stopped: the mock is killed for 10 s, then started again;
- idp_slow: every token answer of the mock is held 5 s;
- idp_garbage: every token answer is a truncated JSON;
- db_outage: the bridge's database refuses connections and its sessions are terminated for 5 s;
- db_restart (with --restart-postgres, only where nothing else uses the server): the PostgreSQL
  cluster itself is restarted (`pg_ctlcluster VERSION main restart -m fast`).

Per phase: completed / refused with a page / raw 5xx / transport errors, p50/p99 of a whole sign-in.
Then the database: duplicate or half-written bindings, the audit chain (`bridge audit verify`), a
success audit row for every completed sign-in, and each person refused in a phase signs in after.
Figures, not assertions; the machine may be shared (its load average is printed).

    .venv/bin/python benchmarks/load_faults.py --quick
    .venv/bin/python benchmarks/load_faults.py            # 10,000 returning + 500 first at 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mail_sink.smtp import free_ports  # noqa: E402

from benchmarks.load_people import Person, make_people, mock_persons_file  # noqa: E402
from bridge.storage.database import normalized_url  # noqa: E402
from tests.e2e.world import choose_provider, enter_password, past_profile  # noqa: E402
from tests.support.html_forms import read_forms  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "load-bridge", "load-bridge-secret-" + "s" * 16



@dataclass
class Process:
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own commands
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_until(url: str, process: Process, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.process is not None and process.process.poll() is None, process.log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer: {process.log.read_text()[-3000:]}")


# --- one sign-in through the pages -----------------------------------------------------------------


@dataclass
class Attempt:
    person: Person
    first: bool
    # completed | refused (a bridge page said no) | 5xx (a raw one) | idp_down (the browser could not
    # reach the provider) | error (no answer from the bridge, or a page the flow did not expect)
    outcome: str = "error"
    seconds: float = 0.0
    # Where a sign-in that did not complete ended: the last page's status and path, or the error.
    detail: str = ""


# Every simulated browser is a fresh client (no cookies carried over), but all share one TLS context:
# building one per client costs the driver ~10 ms of CPU each, and on a 2-core machine the driver's
# CPU is the bridge's competition (everything here is plain HTTP on loopback anyway).
_TLS = ssl.create_default_context()


def _form_around(html: str, marker: str) -> str:
    """The one <form> holding `marker`, cut out of the page (or nothing): the mock's login page lists
    every test person, and parsing all of it at every sign-in made the driver the bottleneck."""
    at = html.find(marker)
    if at < 0:
        return ""
    start, end = html.rfind("<form", 0, at), html.find("</form>", at)
    return html[start:end + len("</form>")] if start >= 0 and end >= 0 else html


async def sign_in(bridge: str, person: Person, *, first: bool) -> Attempt:
    """Login page → РСАА → (first: the issued password, the workplace data) → the account page."""
    attempt = Attempt(person, first)
    raw_5xx = False
    bridge_port = httpx.URL(bridge).port

    async def note(response: httpx.Response) -> None:
        # A raw 500 is the bridge's (or the mock's) unhandled error. The bridge's 502 (the provider
        # failed) and 503 (its database is unavailable) are its Russian pages: a refusal with a page.
        nonlocal raw_5xx
        if response.status_code == 500 or (
            response.status_code > 500 and response.url.port == bridge_port
            and not response.headers.get("content-type", "").startswith(("text/html", "application/json"))
        ):
            raw_5xx = True

    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(
            follow_redirects=True, timeout=60, event_hooks={"response": [note]}, verify=_TLS
        ) as browser:
            page = await browser.get(f"{bridge}/login")
            if page.status_code == 200:
                page = await choose_provider(browser, page, "РСАА")
            login_form = _form_around(page.text, 'name="password"')
            forms = [form for form in read_forms(login_form) if "password" in form.fields]
            if forms and page.url.port != httpx.URL(bridge).port:
                page = await browser.post(
                    str(page.url.join(forms[0].action)),
                    data=forms[0].submission(login=person.email, password=person.mock_password),
                )
                # Only the provider's pages are read for its consent form: back at the bridge the
                # page is the account page, which lists the person's sessions (long after a burst).
                on_provider = page.url.port != bridge_port
                consent = [form for form in read_forms(page.text) if "consent" in form.action] if on_provider else []
                if consent:
                    page = await browser.post(
                        str(page.url.join(consent[0].action)), data={**consent[0].fields, "decision": "allow"}
                    )
            # A 503 page at /login/bind (the database down) has no password form: refused with a page.
            if page.url.path == "/login/bind" and any("password" in form.fields for form in read_forms(page.text)):
                page = await enter_password(browser, page, person.login, person.password)
            page = await past_profile(browser, page)
            attempt.outcome = "completed" if page.url.path == "/account" and page.status_code == 200 else "refused"
            if attempt.outcome != "completed":
                attempt.detail = f"{page.status_code} {page.url.path}"
    except httpx.TransportError as error:
        # The browser could not reach the provider (stopped): the bridge had nothing to answer.
        reached_bridge = error.request.url.port == bridge_port
        attempt.outcome = "error" if reached_bridge else "idp_down"
        attempt.detail = f"{type(error).__name__} at {error.request.url.path}"
    except (httpx.HTTPError, StopIteration, AssertionError) as error:
        attempt.outcome = "error"
        attempt.detail = f"{type(error).__name__}: {error}"[:120]
    if raw_5xx:
        attempt.outcome = "5xx"
    attempt.seconds = time.perf_counter() - started
    return attempt


async def run_all(bridge: str, work: list[tuple[Person, bool]], concurrency: int) -> list[Attempt]:
    gate = asyncio.Semaphore(concurrency)

    async def one(person: Person, first: bool) -> Attempt:
        async with gate:
            attempt = await sign_in(bridge, person, first=first)
            if first and attempt.outcome == "completed":
                person.bound = True
            return attempt

    return list(await asyncio.gather(*(one(person, first) for person, first in work)))


async def run_for(bridge: str, seconds: float, returning: list[Person], first: list[Person],
                  concurrency: int) -> list[Attempt]:
    """Sign-ins at `concurrency` for `seconds`: the first sign-ins early, returning people round-robin."""
    deadline = time.monotonic() + seconds
    queue = [(person, True) for person in first]
    results: list[Attempt] = []

    async def worker(index: int) -> None:
        turn = index
        while time.monotonic() < deadline:
            if queue:
                person, is_first = queue.pop()
            else:
                person, is_first = returning[turn % len(returning)], False
                turn += concurrency
            attempt = await sign_in(bridge, person, first=is_first)
            if is_first and attempt.outcome == "completed":
                person.bound = True
            results.append(attempt)

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return results


@dataclass
class Phase:
    name: str
    attempts: list[Attempt] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for attempt in self.attempts if attempt.outcome == outcome)

    def quantile(self, q: float) -> float:
        times = sorted(attempt.seconds for attempt in self.attempts)
        return times[min(len(times) - 1, int(q * len(times)))] if times else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<12} {len(self.attempts):6d} sign-ins  completed {self.count('completed'):6d}  "
            f"refused with a page {self.count('refused'):5d}  raw 5xx {self.count('5xx'):3d}  "
            f"provider unreachable {self.count('idp_down'):3d}  errors {self.count('error'):3d}  "
            f"p50 {self.quantile(0.5) * 1000:7.0f} ms  "
            f"p99 {self.quantile(0.99) * 1000:7.0f} ms"
        )

    def errors(self) -> list[str]:
        """What the phase's errors were, the commonest first (an error is never left unexplained)."""
        seen = Counter(attempt.detail for attempt in self.attempts if attempt.outcome == "error")
        return [f"    {count} × {detail or 'no detail'}" for detail, count in seen.most_common(5)]


# --- faults ----------------------------------------------------------------------------------------


async def during(fault_on: Callable[[], Awaitable[None]], fault_off: Callable[[], Awaitable[None]],
                 hold: float) -> None:
    await fault_on()
    await asyncio.sleep(hold)
    await fault_off()


def mock_faults(mock: str, fault: str | None) -> Callable[[], Awaitable[None]]:
    async def switch() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            if fault is None:
                await http.delete(f"{mock}/_mock/faults")
            else:
                await http.post(f"{mock}/_mock/faults", json={"provider": "rsaa", "fault": fault, "count": 1_000_000})

    return switch


def database_outage(admin_url: str, name: str, down: bool) -> Callable[[], Awaitable[None]]:
    def switch() -> None:
        admin = create_engine(normalized_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if down else "true"}'))
            if down:
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )
        admin.dispose()

    async def run() -> None:
        await asyncio.to_thread(switch)

    return run


def postgres_restart() -> Callable[[], Awaitable[None]]:
    """`pg_ctlcluster VERSION main restart -m fast` on the Debian cluster (every connection dropped)."""
    def restart() -> None:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],  # noqa: S603,S607
                       check=True, capture_output=True)

    async def run() -> None:
        await asyncio.to_thread(restart)

    return run


async def nothing() -> None:
    return None


# --- the database afterwards -----------------------------------------------------------------------


def database_checks(url: str, completed: int, env: dict[str, str]) -> list[str]:
    engine = create_engine(normalized_url(url))
    with engine.connect() as connection:
        duplicates = connection.execute(text(
            "SELECT count(*) FROM (SELECT staff_id, provider FROM external_bindings GROUP BY staff_id, provider "
            "HAVING count(*) > 1) AS d"
        )).scalar_one()
        unaudited = connection.execute(text(
            "SELECT count(*) FROM external_bindings b WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.event = 'binding.created' AND a.subject_staff_id = b.staff_id)"
        )).scalar_one()
        sessions_without_binding = connection.execute(text(
            "SELECT count(*) FROM audit_events a WHERE a.event = 'binding.created' AND NOT EXISTS "
            "(SELECT 1 FROM external_bindings b WHERE b.staff_id = a.subject_staff_id)"
        )).scalar_one()
        successes = connection.execute(
            text("SELECT count(*) FROM audit_events WHERE event = 'signin.success'")
        ).scalar_one()
    engine.dispose()
    verify = subprocess.run([sys.executable, "-m", "bridge.cli.main", "audit", "verify"], capture_output=True,
                            text=True, env=env, cwd=ROOT)
    return [
        f"duplicate bindings (staff, provider): {duplicates}",
        f"bindings without their binding.created audit row: {unaudited}",
        f"binding.created audit rows without a binding (half-written): {sessions_without_binding}",
        f"signin.success audit rows {successes} for {completed} completed sign-ins "
        f"({'none lost' if successes >= completed else 'LOST ROWS'})",
        f"bridge audit verify: exit {verify.returncode}: {(verify.stdout or verify.stderr).strip().splitlines()[-1:]}",
    ]


# --- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("BRIDGE_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--workers", type=int, default=1, help="bridge serve --workers, when the option exists")
    parser.add_argument("--returning", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--pool", type=int, default=200, help="people bound before the burst")
    parser.add_argument("--first-per-phase", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="small numbers: a few minutes on a shared machine")
    parser.add_argument("--restart-postgres", action="store_true",
                        help="add a phase restarting the local PostgreSQL cluster (nothing else may use it)")
    args = parser.parse_args()
    if args.quick:
        args.returning, args.first, args.concurrency, args.pool, args.first_per_phase = 400, 40, 20, 20, 5
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bridge-load-faults-"))
    name = f"bridge_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalized_url(args.database), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    database_url = httpx.URL(args.database).copy_with(path=f"/{name}")
    url = str(database_url)
    bridge_port, mock_port = free_ports(2)
    bridge, mock = f"http://127.0.0.1:{bridge_port}", f"http://127.0.0.1:{mock_port}"

    phase_first = args.first_per_phase
    people = make_people(args.pool + args.first + 5 * phase_first)
    mock_persons_file(people, folder / "persons.json")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "rsaa.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "clients.json").write_text(json.dumps({"rsaa": [{
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [f"{bridge}/login/callback/rsaa"],
    }]}), encoding="utf-8")
    (folder / "providers.toml").write_text(
        f'[[provider]]\nkey = "rsaa"\nkind = "oidc"\ntitle = "РСАА"\nissuer = "{mock}/rsaa"\n'
        f'client_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n', encoding="utf-8")
    env = {
        **os.environ, "PYTHONUNBUFFERED": "1", "BRIDGE_ENV": "development",
        "BRIDGE_SECRET_KEY": secrets.token_urlsafe(48), "BRIDGE_DATABASE_URL": url, "BRIDGE_PUBLIC_URL": bridge,
        "BRIDGE_PROVIDERS_FILE": str(folder / "providers.toml"),
        # Every sign-in comes from 127.0.0.1: the per-address password budget would throttle the load.
        "BRIDGE_ADDRESS_MAX_FAILURES": "1000000",
    }
    subprocess.run([sys.executable, "-m", "bridge.cli.main", "db", "upgrade"], env=env, check=True, cwd=ROOT,
                   capture_output=True)
    from benchmarks.load_people import register_in_bridge

    register_in_bridge(url, people)

    serve = [sys.executable, "-m", "bridge.cli.main", "serve", "--host", "127.0.0.1", "--port", str(bridge_port)]
    help_text = subprocess.run(  # noqa: S603 - our own command
        [*serve[:4], "--help"], capture_output=True, text=True, env=env, cwd=ROOT
    ).stdout
    if args.workers > 1 and "--workers" in help_text:
        serve += ["--workers", str(args.workers)]
    workers = args.workers if "--workers" in serve else 1
    mock_process = Process(
        [sys.executable, "-m", "idp_mock", "--host", "127.0.0.1", "--port", str(mock_port), "--no-demo-clients",
         "--clients", str(folder / "clients.json"), "--persons", str(folder / "persons.json"),
         "--rsaa-key", str(folder / "rsaa.pem"), "--token-timeout-delay", "5"],
        env, folder / "mock.log")
    bridge_process = Process(serve, env, folder / "bridge.log")
    mock_process.start()
    bridge_process.start()
    phases: list[Phase] = []
    try:
        wait_until(f"{mock}/_mock/faults", mock_process)
        wait_until(f"{bridge}/healthz", bridge_process)
        pool, rest = people[: args.pool], people[args.pool:]
        burst_first, phase_people = rest[: args.first], rest[args.first:]
        setup = await run_all(bridge, [(person, True) for person in pool], args.concurrency)
        bound = [person for person in pool if person.bound]
        print(f"bridge serve ({workers} worker(s)) on PostgreSQL {name}, idp-mock on loopback; "
              f"{len(bound)}/{len(pool)} people bound for returning sign-ins "
              f"({sum(1 for a in setup if a.outcome != 'completed')} setup failures)", flush=True)
        for detail, count in Counter(a.detail for a in setup if a.outcome != "completed").most_common(5):
            print(f"  setup failure ×{count}: {detail}", flush=True)

        work = [(bound[i % len(bound)], False) for i in range(args.returning)] + [(p, True) for p in burst_first]
        random.shuffle(work)
        started = time.monotonic()
        phases.append(Phase("burst", await run_all(bridge, work, args.concurrency)))
        rate = f" ({len(work) / (time.monotonic() - started):.1f} sign-ins/s)"
        print(phases[-1].line() + rate, *phases[-1].errors(), sep="\n", flush=True)

        async def mock_down() -> None:
            await asyncio.to_thread(mock_process.kill)

        async def mock_up() -> None:
            await asyncio.to_thread(mock_process.start)

        faults: list[tuple[str, Callable[[], Awaitable[None]], Callable[[], Awaitable[None]], float, float]] = [
            ("idp_stopped", mock_down, mock_up, 10, 16),
            ("idp_slow", mock_faults(mock, "token_timeout"), mock_faults(mock, None), 10, 14),
            ("idp_garbage", mock_faults(mock, "token_malformed_json"), mock_faults(mock, None), 6, 9),
            ("db_outage", database_outage(args.database, name, True), database_outage(args.database, name, False),
             5, 12),
        ]
        if args.restart_postgres:
            faults.append(("db_restart", postgres_restart(), nothing, 0, 12))
        for index, (label, on, off, hold, length) in enumerate(faults):
            firsts = phase_people[index * phase_first:(index + 1) * phase_first]
            load = asyncio.create_task(run_for(bridge, length, bound, firsts, args.concurrency))
            await asyncio.sleep(1)
            await during(on, off, hold)
            phases.append(Phase(label, await load))
            print(phases[-1].line(), *phases[-1].errors(), sep="\n", flush=True)
            if label == "idp_stopped":
                wait_until(f"{mock}/_mock/faults", mock_process)

        # Everyone refused in a phase signs in now (a first sign-in where they never bound).
        refused = {id(a.person): a.person for phase in phases for a in phase.attempts if a.outcome != "completed"}
        after = await run_all(bridge, [(person, not person.bound) for person in refused.values()], args.concurrency)
        print(f"after the faults: {sum(1 for a in after if a.outcome == 'completed')}/{len(after)} "
              f"refused people signed in", flush=True)
        completed = sum(1 for phase in [Phase("", setup), *phases, Phase("", after)]
                        for a in phase.attempts if a.outcome == "completed")
        for line in database_checks(url, completed, env):
            print("  " + line, flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine)", flush=True)
    finally:
        bridge_process.stop()
        mock_process.stop()
        admin = create_engine(normalized_url(args.database), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"logs: {folder}")


if __name__ == "__main__":
    main()
