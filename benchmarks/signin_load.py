"""Sign-ins per second per core through the real server: `bridge serve` + `idp-mock` on loopback.

Starts the bridge as operators do (uvicorn, pinned to core 0 with taskset when there are two
cores or more) and the mock ESIA/РСАА, binds the people through the pages (the first sign-in:
provider → password → workplace data), then drives, each for a window at a chosen concurrency:

- returning brokered sign-in: app → bridge → РСАА (signed in there) → bridge → token → userinfo,
  in a browser without a bridge cookie, over all the people;
- the same for one person who already has many past sessions (flat with use?);
- the signed-in code flow: authorize → token → userinfo with the bridge's cookie;
- returning sign-in through the mock ESIA (GOST), with a /healthz probe alongside (its p99, and how
  long the event loop was ready to run but waited for a CPU meanwhile: on a shared machine, most of it).

It prints flows/s, the server's CPU share (from /proc: utime+stime of it and its workers over the
window), flows/s per core (= flows/s ÷ that share), p50/p99 latency and errors, with ratios against
baselines measured in the same run: /healthz requests/s per core and one argon2id hash with the
bridge's parameters (first sign-in latency ÷ that hash, and the bridge's CPU per first sign-in ÷
the hash's CPU: the honest one, the mock's and the browser's time are not the bridge's). Figures,
not assertions.

Then a peer on the same core: a certified Node OpenID Provider (oidc-provider 9,
benchmarks/peers/node_op, installed there once with `npm ci`) runs the same signed-in code flow
windows with the same concurrency and browsers, and the report prints bridge ÷ Node per core and
CPU per flow. The peer keeps its codes, grants and tokens in memory: the issue's target (≥ 1.0×)
was set against that one, and its ratio is printed as before. With --database the peer runs a
second time, like for like, keeping them in PostgreSQL (a database of its own, `<name>_node`,
recreated like the bridge's), and a second ratio is printed. Both servers' CPU is their own
processes' (/proc of the server and its children): PostgreSQL's backends are outside both, so on
PostgreSQL each code flow line also gives the database backends' CPU per flow (from /proc of the
pids pg_stat_activity lists for that database), to show whether one side leaves more work to the
database. Without `node` and `npm` the peer is skipped with one line saying so (or with --no-node).

And the Python broker the issue's returning-sign-in target is set against (more than 4×): SATOSA 8
as an OIDC → OIDC proxy (benchmarks/satosa_peer.py; benchmarks/peers/satosa, installed into its own
virtualenv there once), brokering to the same mock РСАА on the same core once the bridge has stopped.
Fresh browsers sign in through it once (the mock's pages), then the same returning-brokered windows
run (same people, concurrency and length; SATOSA's cookies forgotten between flows, the mock's kept)
and the report prints bridge ÷ SATOSA per core and each one's CPU per flow. SATOSA then runs once
more with glibc's malloc keeping freed memory (its state cookie's LZMA buffers are otherwise given
back and faulted in again on every write: most of its CPU), and a second ratio is printed; the
bridge runs with the default malloc in both. When it cannot be installed (no network) it is skipped
with one line (or with --no-satosa).

    .venv/bin/python benchmarks/signin_load.py --quick          # under two minutes
    .venv/bin/python benchmarks/signin_load.py --database postgresql://postgres@127.0.0.1:5432/bench_load
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mail_sink.smtp import free_port

from benchmarks import node_peer, satosa_peer
from benchmarks.load_browser import FlowError, Person, forget_bridge, sign_in
from benchmarks.load_stack import BackendCpu, Stack, cpu_seconds, loop_cpu_wait_seconds, start
from benchmarks.peer_server import PeerServer


@dataclass
class Window:
    name: str
    seconds: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The database's client backends' CPU over the window (PostgreSQL on this machine), else None.
    database_cpu: float | None = None

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def share(self) -> float:
        return self.cpu / self.seconds if self.seconds else 0.0

    @property
    def per_core(self) -> float:
        return self.rate / self.share if self.share else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def database_ms_per_flow(self) -> float | None:
        if self.database_cpu is None or not self.latencies:
            return None
        return self.database_cpu / len(self.latencies) * 1000

    def line(self) -> str:
        database = self.database_ms_per_flow
        return (f"{self.name:<34} {self.rate:8.1f}/s  cpu {self.share:5.2f}  {self.per_core:8.1f}/s/core  "
                f"p50 {self.quantile(0.5):7.1f} ms  p99 {self.quantile(0.99):7.1f} ms  errors {len(self.errors)}"
                + (f"  PostgreSQL {database:.2f} ms/flow" if database is not None else ""))


# People who sign in through ESIA (each a browser of its own in the ESIA window).
ESIA_PEOPLE = 8

Flow = Callable[[int], Awaitable[float]]


async def run_window(name: str, flow: Flow, *, workers: int, seconds: float, server_pid: int,
                     limit: int | None = None, database: BackendCpu | None = None) -> Window:
    """`workers` loops calling flow(worker) until the window closes (or `limit` flows were started).

    The server's CPU is its process tree's; `database`, when given, measures its PostgreSQL
    backends' CPU apart (they are not the server's processes).
    """
    window = Window(name)
    started_flows = 0
    deadline = time.perf_counter() + seconds

    async def worker(number: int) -> None:
        nonlocal started_flows
        while time.perf_counter() < deadline and (limit is None or started_flows < limit):
            started_flows += 1
            try:
                window.latencies.append(await flow(number))
            except (FlowError, httpx.HTTPError, KeyError, ValueError) as error:
                window.errors.append(f"{type(error).__name__}: {error}"[:300])

    database_before = database.snapshot() if database else None
    cpu_before, wall_before = cpu_seconds(server_pid), time.perf_counter()
    await asyncio.gather(*(worker(number) for number in range(workers)))
    window.seconds = time.perf_counter() - wall_before
    window.cpu = cpu_seconds(server_pid) - cpu_before
    if database:
        window.database_cpu = BackendCpu.spent(database_before, database.snapshot())
    return window


def browser() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, follow_redirects=False)


@dataclass
class ProbeTimes:
    """A probe's latencies (s), and for each how long the probe process itself waited for a CPU
    meanwhile (its run-queue delay; zeros where /proc does not say): on a shared machine the probe
    waits for a core too, and that is not the server's doing."""

    latencies: list[float] = field(default_factory=list)
    own_waits: list[float] = field(default_factory=list)

    def quantile_ms(self, q: float, *, without_own_wait: bool = False) -> float:
        values = ([max(0.0, latency - wait) for latency, wait in zip(self.latencies, self.own_waits, strict=True)]
                  if without_own_wait else self.latencies)
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[int(q * (len(ordered) - 1))] * 1000


@asynccontextmanager
async def probing(url: str, every: float = 0.02) -> AsyncIterator[ProbeTimes]:
    """A health check every `every` seconds while the block runs: its times, filled at the end.

    From a process of its own, started before the block: in this driver's event loop, busy with the
    browsers' flows, it would time the driver's own delays too (about 30 ms at p50 on the 2-core dev
    machine), not the server's. The process probes until its standard input closes.
    """
    code = f"from benchmarks.signin_load import probe_until_stdin_closes; probe_until_stdin_closes({url!r}, {every!r})"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.stdin is not None and process.stdout is not None
    times = ProbeTimes()
    try:
        await process.stdout.readline()  # "ready"
        yield times
    finally:
        process.stdin.close()
        output, _ = await process.communicate()
        for latency, own_wait in json.loads(output):
            times.latencies.append(latency)
            times.own_waits.append(own_wait)


def _own_cpu_wait() -> float:
    """This thread's run-queue delay so far (s), from /proc; 0 where it is not reported."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def probe_until_stdin_closes(url: str, every: float) -> None:
    halt = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), halt.set()), daemon=True).start()
    times: list[tuple[float, float]] = []
    with httpx.Client(timeout=30) as client:
        client.get(url)
        print("ready", flush=True)
        while not halt.is_set():
            waited, started = _own_cpu_wait(), time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started, _own_cpu_wait() - waited))
            time.sleep(every)
    print(json.dumps(times), flush=True)


@dataclass(frozen=True)
class HashCost:
    """One argon2id hash with the bridge's parameters: wall time, and CPU time (what a busy
    machine does not inflate, comparable with the server's CPU per flow)."""

    wall_ms: float
    cpu_ms: float


def argon2_cost(times: int = 7) -> HashCost:
    from bridge.services.passwords import hash_password

    walls, cpus = [], []
    for _ in range(times):
        started, started_cpu = time.perf_counter(), time.thread_time()
        hash_password("Bench-Password-1!")
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.thread_time() - started_cpu) * 1000)
    return HashCost(statistics.median(walls), statistics.median(cpus))


@dataclass
class Plan:
    seconds: float
    runs: int
    concurrency: int
    first_measured: int


# First sign-ins made before the measured windows (the process's one-time warm-up).
WARM_UP_FIRST_SIGNINS = 2


async def drive(stack: Stack, plan: Plan, esia_people: int, database: BackendCpu | None = None) -> list[Window]:
    # The last `esia_people` sign in through ESIA only (an issued password binds one account).
    people, esia_people_list = stack.people[:-esia_people], stack.people[-esia_people:]
    app = stack.app
    bridge_host = "127.0.0.1"
    rsaa = {person.login: browser() for person in people}
    esia = {person.login: browser() for person in esia_people_list}
    pid = stack.server_pid
    windows: list[Window] = []
    window_at = functools.partial(run_window, server_pid=pid, database=database)

    health_client = browser()

    async def health(_: int) -> float:
        started = time.perf_counter()
        response = await health_client.get(f"{stack.bridge_url}/healthz")
        if response.status_code != 200:
            raise FlowError(f"healthz {response.status_code}")
        return time.perf_counter() - started

    windows.append(await window_at("baseline GET /healthz", health, workers=plan.concurrency,
                                    seconds=plan.seconds / 2))

    # First sign-ins, through the pages: the first few one at a time (latency), the rest in parallel.
    async def first(person: Person, clients: dict[str, httpx.AsyncClient], provider: str) -> float:
        return await sign_in(clients[person.login], app, person, provider=provider)

    queue = list(people)

    async def first_next(_: int) -> float:
        return await first(queue.pop(), rsaa, "rsaa")

    # Not measured: the server's first sign-ins compile its SQL and templates and start its worker
    # threads, once per process; the windows measure what every later first sign-in costs.
    for _ in range(WARM_UP_FIRST_SIGNINS):
        await first_next(0)
    windows.append(await window_at("first sign-in (binding), 1 at a time", first_next, workers=1,
                                    seconds=600, limit=plan.first_measured))
    windows.append(await window_at("first sign-in (binding), parallel", first_next, workers=plan.concurrency,
                                    seconds=600, limit=len(queue)))
    esia_queue = list(esia_people_list)

    async def bind_esia(_: int) -> float:
        return await first(esia_queue.pop(), esia, "esia")

    windows.append(await window_at("first sign-in through ESIA", bind_esia, workers=min(4, esia_people),
                                    seconds=600, limit=esia_people))

    turns = [0] * plan.concurrency

    def person_of(worker: int, among: int) -> Person:
        # Each worker its own people: one browser is never in two flows at once.
        mine = range(worker, among, plan.concurrency)
        turns[worker] += 1
        return people[mine[turns[worker] % len(mine)]]

    async def returning(worker: int) -> float:
        person = person_of(worker, len(people))
        client = rsaa[person.login]
        forget_bridge(client, bridge_host)
        return await sign_in(client, app, person)

    async def returning_one(worker: int) -> float:
        person = people[0]
        client = rsaa[f"{person.login}"] if worker == 0 else _extra(worker, person)
        forget_bridge(client, bridge_host)
        return await sign_in(client, app, person)

    extra: dict[int, httpx.AsyncClient] = {}

    def _extra(worker: int, person: Person) -> httpx.AsyncClient:
        # Each worker its own browser for the same person (signed in at the provider once).
        if worker not in extra:
            extra[worker] = browser()
        return extra[worker]

    for worker in range(1, plan.concurrency):
        await sign_in(_extra(worker, people[0]), app, people[0])

    async def code_flow(worker: int) -> float:
        person = person_of(worker, len(people))
        return await sign_in(rsaa[person.login], app, person, provider=None)

    async def esia_returning(worker: int) -> float:
        person = esia_people_list[worker % esia_people]
        client = esia[person.login]
        forget_bridge(client, bridge_host)
        return await sign_in(client, app, person, provider="esia")

    for _ in range(plan.runs):
        windows.append(await window_at(f"returning brokered ({len(people)} people)", returning,
                                        workers=plan.concurrency, seconds=plan.seconds))
    for _ in range(plan.runs):
        windows.append(await window_at("returning brokered, one person", returning_one,
                                        workers=plan.concurrency, seconds=plan.seconds))
    for person in people:
        # A bridge cookie for each browser: the code flow is the signed-in one.
        await sign_in(rsaa[person.login], app, person)
    for _ in range(plan.runs):
        windows.append(await window_at("signed-in code flow", code_flow, workers=plan.concurrency,
                                        seconds=plan.seconds))
    for _ in range(plan.runs):
        waited_before = loop_cpu_wait_seconds(pid)
        async with probing(f"{stack.bridge_url}/healthz") as probe:
            window = await window_at("returning through ESIA (+probe)", esia_returning,
                                      workers=min(plan.concurrency, esia_people), seconds=plan.seconds)
        waited_after = loop_cpu_wait_seconds(pid)
        window.name += (f" probe p50 {probe.quantile_ms(0.5):.1f} p99 {probe.quantile_ms(0.99):.1f} ms "
                        f"({probe.quantile_ms(0.5, without_own_wait=True):.1f} / "
                        f"{probe.quantile_ms(0.99, without_own_wait=True):.1f} without the probe's own wait for a CPU)")
        if waited_before is not None and waited_after is not None and window.seconds:
            # Read the p99 against this: on a busy machine the loop waits for a core, whatever the bridge does.
            window.name += f", loop waited for a CPU {(waited_after - waited_before) / window.seconds * 1000:.0f} ms/s"
        windows.append(window)
    for client in [*rsaa.values(), *esia.values(), *extra.values(), health_client]:
        await client.aclose()
    return windows


# The peer's two stores: in memory (what the issue's target was set against) and PostgreSQL (like for like).
NODE_IN_MEMORY = "Node peer in memory: signed-in code flow"
NODE_ON_POSTGRES = "Node peer on PostgreSQL: signed-in code flow"


async def drive_node_peer(peer: PeerServer, name: str, plan: Plan, browsers: int,
                          database: BackendCpu | None = None) -> list[Window]:
    """The Node peer's signed-in code flow, with the bridge's concurrency, windows and browser count.

    Each browser signs in at the peer once (its login and consent pages); the windows then measure
    authorize → code → token → userinfo with the peer's cookie, as "signed-in code flow" does at
    the bridge.
    """
    people = node_peer.people(browsers)
    clients = {person.login: browser() for person in people}
    await asyncio.gather(*(sign_in(clients[person.login], peer.app, person, provider=None) for person in people))
    turns = [0] * plan.concurrency

    async def code_flow(worker: int) -> float:
        mine = range(worker, len(people), plan.concurrency)
        turns[worker] += 1
        person = people[mine[turns[worker] % len(mine)]]
        return await sign_in(clients[person.login], peer.app, person, provider=None)

    windows = [await run_window(name, code_flow, workers=plan.concurrency, seconds=plan.seconds,
                                server_pid=peer.server_pid, database=database) for _ in range(plan.runs)]
    for client in clients.values():
        await client.aclose()
    return windows


def measure_node_peer(folder: Path, plan: Plan, browsers: int, cores: str | None,
                      database_url: str | None = None) -> list[Window]:
    """The peer's windows in memory, then (given `database_url`) on PostgreSQL in that database; or
    none (and one line saying why) when it cannot run here."""
    missing = node_peer.missing_tools()
    if missing:
        print(f"Node peer skipped: {missing}")
        return []
    try:
        node_peer.install()
        print(f"Node peer: {node_peer.describe()}, on core {cores or 'any'}", flush=True)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"Node peer skipped: {error}")
        return []
    windows: list[Window] = []
    stores: list[tuple[str, str | None]] = [(NODE_IN_MEMORY, None)]
    if database_url:
        stores.append((NODE_ON_POSTGRES, database_url))
    for name, url in stores:
        try:
            if url:
                recreate_database(url)
            peer = node_peer.start(folder / "node-op.log", cores, database_url=url)
        except (OSError, RuntimeError) as error:
            print(f"{name} skipped: {error}")
            continue
        database = BackendCpu(url) if url else None
        try:
            windows += asyncio.run(drive_node_peer(peer, name, plan, browsers, database))
        finally:
            peer.stop()
            if database:
                database.close()
    return windows


SATOSA_RETURNING = "SATOSA peer: returning brokered"
SATOSA_KEEPING_MEMORY = "SATOSA peer, malloc keeping memory: returning brokered"


async def drive_satosa_peer(peers: Callable[[bool], PeerServer], people: list[Person],
                            plan: Plan) -> list[Window]:
    """SATOSA's returning brokered sign-in, with the bridge's people, concurrency and windows: as
    installed, then with glibc's malloc keeping freed memory (satosa_peer.KEEP_FREED_MEMORY).

    Each person gets a fresh browser and signs in through SATOSA once (the mock's person picker);
    the windows then measure app → SATOSA → РСАА (signed in there) → SATOSA → token → userinfo with
    SATOSA's cookies forgotten before each flow and the mock's kept, as the bridge's window does.
    """
    clients = {person.login: browser() for person in people}
    pending = list(people)
    turns = [0] * plan.concurrency

    async def first(_: int) -> float:
        person = pending.pop()
        return await sign_in(clients[person.login], app, person, provider=None)

    async def returning(worker: int) -> float:
        mine = range(worker, len(people), plan.concurrency)
        turns[worker] += 1
        person = people[mine[turns[worker] % len(mine)]]
        client = clients[person.login]
        forget_bridge(client, httpx.URL(app.bridge_url).host)
        return await sign_in(client, app, person, provider=None)

    windows: list[Window] = []
    for name, keep_freed_memory in ((SATOSA_RETURNING, False), (SATOSA_KEEPING_MEMORY, True)):
        peer = await asyncio.to_thread(peers, keep_freed_memory)
        app = peer.app
        try:
            if pending:
                # Not measured: the first sign-ins go through the mock's pages (its cookie then stays).
                await run_window("SATOSA first sign-ins", first, workers=plan.concurrency, seconds=600,
                                 server_pid=peer.server_pid, limit=len(people))
            windows += [await run_window(f"{name} ({len(people)} people)", returning, workers=plan.concurrency,
                                         seconds=plan.seconds, server_pid=peer.server_pid) for _ in range(plan.runs)]
        finally:
            peer.stop()
    for client in clients.values():
        await client.aclose()
    return windows


def measure_satosa_peer(folder: Path, stack: Stack, port: int, plan: Plan, cores: str | None) -> list[Window]:
    """SATOSA's windows against the stack's mock РСАА, on `port` (registered at the mock at its start);
    or none, and one line saying why, when it cannot be installed or started here."""
    try:
        satosa_peer.install()
        print(f"SATOSA peer: {satosa_peer.describe()}, on core {cores or 'any'}", flush=True)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"SATOSA peer skipped: could not install {satosa_peer.FOLDER / 'requirements.txt'} "
              f"({error}; see {satosa_peer.FOLDER / '.venv' / 'install.log'})")
        return []

    def peer(keep_freed_memory: bool) -> PeerServer:
        return satosa_peer.start(folder / "satosa.log", port, f"{stack.mock_url}/rsaa", cores,
                                 keep_freed_memory=keep_freed_memory)

    try:
        return asyncio.run(drive_satosa_peer(peer, stack.people[:-ESIA_PEOPLE], plan))
    except (OSError, RuntimeError) as error:
        print(f"SATOSA peer skipped: {str(error).splitlines()[0]} (see {folder / 'satosa.log'})")
        return []


def median_of(windows: list[Window], prefix: str) -> Window | None:
    matching = [window for window in windows if window.name.startswith(prefix)]
    return sorted(matching, key=lambda window: window.per_core)[len(matching) // 2] if matching else None


def report(windows: list[Window], hash_cost: HashCost) -> None:
    print()
    for window in windows:
        print(window.line())
        for error in sorted(set(window.errors))[:3]:
            print(f"    ! {error}")
    baseline = median_of(windows, "baseline")
    first = median_of(windows, "first sign-in (binding), 1")
    print()
    hash_ms = hash_cost.wall_ms
    print(f"argon2id hash with the bridge's parameters: {hash_ms:.1f} ms ({hash_cost.cpu_ms:.1f} ms of CPU)")
    if first is not None:
        print(f"first sign-in p50 {first.quantile(0.5):.1f} ms = {first.quantile(0.5) / hash_ms:.2f}× one hash "
              "(target ≤ 1.3×)")
        # The honest figure: the bridge's own CPU, not the browser's, the mock's or the machine's queue.
        if first.latencies:
            cpu_ms = first.cpu / len(first.latencies) * 1000
            ratio = cpu_ms / hash_cost.cpu_ms
            print(f"first sign-in bridge CPU {cpu_ms:.1f} ms per flow = {ratio:.2f}× one hash's CPU")
    for prefix, target in (("returning brokered (", 150.0), ("returning brokered, one", 150.0),
                           ("signed-in code flow", 220.0), ("returning through ESIA", 0.0)):
        median = median_of(windows, prefix)
        if median is None or baseline is None:
            continue
        goal = f", target ≥ {target:.0f}/s/core" if target else ""
        print(f"median {median.name.split(' probe')[0]:<34} {median.per_core:7.1f}/s/core "
              f"({median.per_core / baseline.per_core * 100:.1f}% of /healthz per core{goal})")
    _satosa_ratio(windows)
    bridge_code = median_of(windows, "signed-in code flow")
    if bridge_code is None or not bridge_code.per_core:
        return
    for name, store, issue_target in ((NODE_IN_MEMORY, "in memory", " (target ≥ 1.0×)"),
                                      (NODE_ON_POSTGRES, "on PostgreSQL", "")):
        node_code = median_of(windows, name)
        if node_code is None or not node_code.per_core:
            continue
        print(f"signed-in code flow, bridge ÷ Node oidc-provider {store}, same core: "
              f"{bridge_code.per_core:.1f} ÷ {node_code.per_core:.1f} /s/core = "
              f"{bridge_code.per_core / node_code.per_core:.2f}×{issue_target}; server CPU per flow "
              f"{1000 / bridge_code.per_core:.2f} ms ÷ {1000 / node_code.per_core:.2f} ms"
              + _database_figures(bridge_code, node_code))
    if bridge_code.database_cpu is not None:
        print("  (server CPU is each server's own processes; PostgreSQL's backends are outside both figures, "
              "their CPU per flow is the PostgreSQL one)")


def _satosa_ratio(windows: list[Window]) -> None:
    bridge = median_of(windows, "returning brokered (")
    if bridge is None or not bridge.per_core:
        return
    for name, which, target in ((SATOSA_RETURNING, "", " (target > 4×)"),
                                (SATOSA_KEEPING_MEMORY, " with malloc keeping freed memory", "")):
        satosa = median_of(windows, name)
        if satosa is None or not satosa.per_core:
            continue
        print(f"returning brokered, bridge ÷ SATOSA{which} per core: {bridge.per_core / satosa.per_core:.2f}×{target}: "
              f"{bridge.per_core:.1f} ÷ {satosa.per_core:.1f} /s/core; server CPU per flow "
              f"{1000 / bridge.per_core:.2f} ms ÷ {1000 / satosa.per_core:.2f} ms")


def _database_figures(bridge: Window, node: Window) -> str:
    bridge_ms, node_ms = bridge.database_ms_per_flow, node.database_ms_per_flow
    if bridge_ms is None or node_ms is None:
        return ""
    return (f"; PostgreSQL CPU per flow {bridge_ms:.2f} ms ÷ {node_ms:.2f} ms; "
            f"together {1000 / bridge.per_core + bridge_ms:.2f} ms ÷ {1000 / node.per_core + node_ms:.2f} ms")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with --quick's shorter windows applied."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short windows, one run each: under two minutes")
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured window")
    parser.add_argument("--runs", type=int, default=3, help="windows per flow (the median is reported)")
    parser.add_argument("--past-sessions", type=int, default=10_000, help="sessions the first person already has")
    parser.add_argument("--database", help="a PostgreSQL URL (the database is recreated); default SQLite")
    parser.add_argument("--workers", type=int, default=1, help="bridge serve --workers")
    parser.add_argument("--no-node", action="store_true",
                        help="skip the Node peer (oidc-provider in benchmarks/peers/node_op)")
    parser.add_argument("--no-satosa", action="store_true",
                        help="skip the SATOSA peer (the Python broker, benchmarks/peers/satosa)")
    args = parser.parse_args(argv)
    if args.people < args.concurrency:
        parser.error("--people must be at least --concurrency (a browser is in one flow at a time)")
    if args.quick:
        args.people, args.seconds, args.runs, args.past_sessions = min(args.people, 24), 6.0, 1, 2_000
    return args


def main() -> None:
    args = arguments()
    cores = os.cpu_count() or 1
    server_cores, other_cores = ("0", f"1-{cores - 1}") if cores > 1 else (None, None)
    if other_cores:
        os.sched_setaffinity(0, {int(core) for core in range(1, cores)})
    hash_cost = argon2_cost()
    with tempfile.TemporaryDirectory() as folder:
        database_url = args.database or f"sqlite:///{folder}/bench.db"
        if args.database:
            recreate_database(args.database)
        # SATOSA's port is chosen now: the mock registers its callback at start.
        satosa_port, mock_clients = None, None
        if not args.no_satosa:
            satosa_port = free_port()
            mock_clients = Path(folder) / "mock-clients.json"
            mock_clients.write_text(json.dumps(satosa_peer.mock_clients(satosa_port)), encoding="utf-8")
        stack = start(Path(folder), database_url, people=args.people + ESIA_PEOPLE, past_sessions=args.past_sessions,
                      workers=args.workers, server_cores=server_cores, other_cores=other_cores,
                      mock_clients=mock_clients)
        database = BackendCpu(args.database) if args.database else None
        try:
            plan = Plan(seconds=args.seconds, runs=args.runs, concurrency=args.concurrency,
                        first_measured=min(8, args.people // 3))
            windows = asyncio.run(drive(stack, plan, esia_people=ESIA_PEOPLE, database=database))
            if satosa_port is not None:
                # The bridge stops first: SATOSA gets its core, the mock stays up for it.
                stack.stop_server()
                windows += measure_satosa_peer(Path(folder), stack, satosa_port, plan, server_cores)
        finally:
            stack.stop()
            if database:
                database.close()
        if not args.no_node:
            windows += measure_node_peer(Path(folder), plan, browsers=args.people, cores=server_cores,
                                         database_url=node_database_url(args.database) if args.database else None)
    print(f"database {'PostgreSQL' if args.database else 'SQLite'}, server on core {server_cores or 'any'}, "
          f"concurrency {args.concurrency}, {args.people} people, {args.past_sessions} past sessions for one")
    report(windows, hash_cost)


def node_database_url(url: str) -> str:
    """The Node peer's own database next to the bridge's: `<name>_node`, a plain postgresql:// URL."""
    from sqlalchemy.engine import make_url

    target = make_url(url)
    return target.set(drivername="postgresql", database=f"{target.database}_node").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


if __name__ == "__main__":
    main()
