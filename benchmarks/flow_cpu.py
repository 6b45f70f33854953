"""The bridge's CPU per flow for one flow, on the real server: for comparing two commits, and for
seeing where the time goes.

signin_load.py measures every flow for a short window each; this one drives a single flow for as
long as asked, so that a change worth a few per cent shows over the machine's noise when the same
command is run alternately on the commit before and after it (medians of several pairs). It starts
`bridge serve` (pinned to core 0) and `idp-mock` (core 1) as signin_load.py does, binds the people
through the pages, then drives

- `returning`: returning brokered sign-ins through the mock РСАА, in browsers without a bridge cookie;
- `code`: the signed-in code flow (authorize → token → userinfo with the bridge's cookie);
- `esia`: returning sign-ins through the mock ESIA;
- `first`: first sign-ins through the pages (a person each, so the window ends when they run out);

and prints the window's line (flows/s, the server's CPU share, flows/s per core, p50/p99, errors)
and the bridge's CPU per flow. With `--py-spy PATH` (the py-spy executable, not a dependency of the
project) it records the server meanwhile, sampling the thread that holds the GIL, into a folded-stack
file whose path it prints. py-spy's GIL detection names the thread that held the GIL last, so time
spent in C with the GIL released (SQLite's steps, argon2) may be counted to it: read shares of
Python work, not of CPU.

    .venv/bin/python benchmarks/flow_cpu.py returning --seconds 20
    .venv/bin/python benchmarks/flow_cpu.py code --database postgresql://postgres@127.0.0.1:5432/bench_flow
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.load_browser import forget_bridge, sign_in
from benchmarks.load_stack import Stack, start
from benchmarks.signin_load import Flow, browser, recreate_database, run_window

FLOWS = ("returning", "code", "esia", "first")
CONCURRENCY = 8
# First sign-ins need a person each; the others sign the first CONCURRENCY people in again and again.
FIRST_SIGNIN_PEOPLE = 60
PEOPLE = 12
BRIDGE_HOST = "127.0.0.1"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flow", choices=FLOWS)
    parser.add_argument("--seconds", type=float, default=20.0, help="the window's length (default 20)")
    parser.add_argument("--database", help="a PostgreSQL URL (the database is recreated); SQLite by default")
    parser.add_argument("--py-spy", dest="py_spy", help="the py-spy executable: record the server meanwhile")
    return parser.parse_args(argv)


async def drive(flow: str, seconds: float, stack: Stack, py_spy: str | None, folder: Path) -> None:
    people = stack.people
    clients = {person.login: browser() for person in people}
    provider = "esia" if flow == "esia" else "rsaa"
    queue = list(people)

    async def first_signin(_: int) -> float:
        person = queue.pop()
        return await sign_in(clients[person.login], stack.app, person, provider=provider)

    async def again(worker: int) -> float:
        person = people[worker]
        client = clients[person.login]
        if flow == "code":
            return await sign_in(client, stack.app, person, provider=None)
        forget_bridge(client, BRIDGE_HOST)
        return await sign_in(client, stack.app, person, provider=provider)

    one: Flow
    if flow == "first":
        one, workers, limit = first_signin, 4, len(people) - 2
        # The process's one-time warm-up (its SQL and templates compiled, its threads started).
        for _ in range(2):
            await first_signin(0)
    else:
        one, workers, limit = again, CONCURRENCY, None
        for person in people[:CONCURRENCY]:
            await sign_in(clients[person.login], stack.app, person, provider=provider)
    recorder = None
    if py_spy:
        profile = folder / "profile.folded"
        recorder = subprocess.Popen(  # noqa: S603 - the py-spy named on the command line
            [py_spy, "record", "--pid", str(stack.server_pid), "--rate", "400", "--gil", "--format", "raw",
             "--output", str(profile), "--duration", str(int(seconds))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    window = await run_window(flow, one, workers=workers, seconds=seconds, server_pid=stack.server_pid, limit=limit)
    print(window.line())
    if window.per_core:
        print(f"bridge CPU per flow: {1000 / window.per_core:.2f} ms")
    if recorder is not None:
        recorder.wait()
        print(f"py-spy profile (folded stacks): {profile}")
    for client in clients.values():
        await client.aclose()


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    folder = Path(tempfile.mkdtemp(prefix="flow-cpu-"))
    database = args.database or f"sqlite:///{folder / 'bridge.db'}"
    if args.database:
        recreate_database(args.database)
    cores = ("0", "1") if (os.cpu_count() or 1) >= 2 else (None, None)
    people = FIRST_SIGNIN_PEOPLE if args.flow == "first" else PEOPLE
    stack = start(folder, database, people=people, past_sessions=0, workers=1,
                  server_cores=cores[0], other_cores=cores[1])
    try:
        asyncio.run(drive(args.flow, args.seconds, stack, args.py_spy, folder))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
