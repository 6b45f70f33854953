"""The server's CPU per request for a cheap GET (default /healthz), with the server kept busy.

`signin_load.py`'s /healthz baseline drives the bridge with httpx, which saturates the driver's core
long before the server's: the server then idles between requests, and each request also pays the
event loop's wake-up from idle. That figure is the cost of a request to an idle server; this one is
the cost of a request to a busy one, the per-request share of the web stack (uvicorn, Starlette,
the bridge's middlewares, the access line) that every sign-in request pays.

The bridge runs as `signin_load.py` starts it (`bridge serve` pinned to core 0); the load is plain
HTTP/1.1 over keep-alive connections written by hand, each connection one request at a time.

    .venv/bin/python benchmarks/request_cost.py                 # /healthz, 3 windows of 5 s
    .venv/bin/python benchmarks/request_cost.py /healthz /readyz --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.load_stack import cpu_seconds, start


async def one_request(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"unexpected answer: {head[:60]!r}")
    at = head.lower().find(b"content-length:")
    await reader.readexactly(int(head[at + len(b"content-length:"):head.index(b"\r\n", at)]))


async def window(url: str, server_pid: int, seconds: float, connections: int) -> tuple[float, float]:
    """(requests per second, server CPU seconds per request) over one window."""
    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: request-cost\r\n"
               "Accept: */*\r\n\r\n").encode()
    done = 0
    started = asyncio.Event()
    stop_at = 0.0

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for _ in range(20):  # warm: the connection, the server's caches
            await one_request(request, reader, writer)
        await started.wait()
        while time.monotonic() < stop_at:
            await one_request(request, reader, writer)
            done += 1
        writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.5)
    cpu_before, began = cpu_seconds(server_pid), time.monotonic()
    stop_at = began + seconds
    started.set()
    await asyncio.gather(*tasks)
    elapsed, cpu = time.monotonic() - began, cpu_seconds(server_pid) - cpu_before
    return done / elapsed, cpu / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=["/healthz"], help="GET paths answering 200")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each window")
    parser.add_argument("--runs", type=int, default=3, help="windows per path (the median is reported)")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    server_cores, other_cores = ("0", f"1-{cores - 1}") if cores > 1 else (None, None)
    if other_cores:
        os.sched_setaffinity(0, set(range(1, cores)))
    with tempfile.TemporaryDirectory() as folder:
        stack = start(Path(folder), f"sqlite:///{folder}/bench.db", people=2, past_sessions=0, workers=1,
                      server_cores=server_cores, other_cores=other_cores)
        try:
            for path in args.paths:
                results = [asyncio.run(window(stack.bridge_url + path, stack.server_pid, args.seconds,
                                              args.connections)) for _ in range(args.runs)]
                per_request = statistics.median(cost for _, cost in results)
                print(f"GET {path:24s} {statistics.median(rate for rate, _ in results):7.0f}/s  "
                      f"server CPU {per_request * 1e6:6.1f} µs/request = {1 / per_request:7.0f}/s/core  "
                      f"(runs: {', '.join(f'{cost * 1e6:.0f}' for _, cost in results)} µs)")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
