"""What the audit hash chain costs: N audit records from K threads on PostgreSQL, with and without it.

Each record is its own transaction (the worst case: a transaction that writes nothing else, like a
refusal recorded independently). "chained" goes through `record()`, so every commit takes the
chain head's row lock, hashes and advances the head; "plain" inserts the same rows with a seq from
a PostgreSQL sequence and no hashes (what the audit cost before the chain). Prints records per
second, p50/p99 commit latency and the ratio. Figures, not assertions.

The head is held until the commit has been flushed to the WAL, so chained commits are one at a
time and lose PostgreSQL's group commit: the rate is about 1 / (WAL flush + three round trips).
`--no-commit-wait` shows the rest of the cost alone.

    .venv/bin/python benchmarks/audit_chain.py [--records 4000] [--threads 16] [--no-commit-wait] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, func, text
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record
from bridge.storage.database import build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade
from bridge.storage.models import AuditEvent
from bridge.storage.types import utcnow

CONTEXT = AuditContext("bench", address="127.0.0.1")


def chained(factory: sessionmaker[Session], number: int) -> None:
    with factory() as db, db.begin():
        record(db, CONTEXT, "oidc.token.refused", "refused", client_id="app", number=number)


def plain(factory: sessionmaker[Session], number: int) -> None:
    with factory() as db, db.begin():
        db.add(AuditEvent(
            at=utcnow(), event="oidc.token.refused", outcome="refused", actor=CONTEXT.actor, address=CONTEXT.address,
            details={"client_id": "app", "number": number},
            seq=func.nextval("bench_plain_seq"), prev_hash="", hash="",
        ))


def run(factory: sessionmaker[Session], write: Callable[[sessionmaker[Session], int], None],
        records: int, threads: int) -> tuple[float, list[float]]:
    barrier = threading.Barrier(threads + 1)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        mine: list[float] = []
        barrier.wait()
        for number in range(offset, records, threads):
            started = time.perf_counter()
            write(factory, number)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=worker, args=(offset,)) for offset in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    return time.perf_counter() - started, latencies


def report(name: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{name:8} {rate:9.0f} records/s   p50 {cuts[49] * 1000:6.2f} ms   p99 {cuts[98] * 1000:6.2f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--postgres", default=os.environ.get("BRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument(
        "--no-commit-wait", action="store_true",
        help="synchronous_commit=off: what the chain costs apart from waiting for the WAL flush",
    )
    args = parser.parse_args()

    admin = create_engine(normalized_url(args.postgres), isolation_level="AUTOCOMMIT")
    name = f"bridge_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    options = {"options": "-c synchronous_commit=off"} if args.no_commit_wait else {}
    engine = create_engine(admin.url.set(database=name), pool_size=args.threads, max_overflow=0, connect_args=options)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE SEQUENCE bench_plain_seq START 1000000000"))
        factory = build_sessionmaker(engine)
        run(factory, plain, args.threads * 10, args.threads)  # warm the pool and the caches
        mode = ", synchronous_commit=off" if args.no_commit_wait else ""
        print(f"{args.records} audit records, one per transaction, from {args.threads} threads (PostgreSQL{mode})")
        plain_rate = report("plain", *run(factory, plain, args.records, args.threads))
        chained_rate = report("chained", *run(factory, chained, args.records, args.threads))
        print(f"chained / plain = {chained_rate / plain_rate:.2f}")
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
