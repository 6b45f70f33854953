"""What one audited commit costs in CPU, in process: N transactions with one audit record each (and
with two, as a sign-in's callback writes), against the same transactions without it (SQLite, and
PostgreSQL with --postgres).

benchmarks/audit_chain.py measures the chain under contention (records per second from many
threads); this measures the CPU the chain adds to every audited request on a hot path (a
sign-in's callback, the token endpoint, authorize). Figures, not assertions.

    .venv/bin/python benchmarks/audit_commit.py [--commits 3000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record
from bridge.services.audit_settings import AuditSettings, configure_audit
from bridge.storage.database import build_engine, build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade

CONTEXT = AuditContext("bench", address="127.0.0.1")


def bare(factory: sessionmaker[Session]) -> None:
    with factory() as db, db.begin():
        db.execute(text("SELECT 1"))


def audited(factory: sessionmaker[Session]) -> None:
    with factory() as db, db.begin():
        db.execute(text("SELECT 1"))
        record(db, CONTEXT, "oidc.token.issued", "success", subject_staff_id=7, client_id="app",
               grant_type="authorization_code")


def audited_twice(factory: sessionmaker[Session]) -> None:
    with factory() as db, db.begin():
        db.execute(text("SELECT 1"))
        record(db, CONTEXT, "signin.callback", "success", subject_staff_id=7, provider="rsaa")
        record(db, CONTEXT, "signin.completed", "success", subject_staff_id=7, organization_id=3, client_id="app")


def cpu_per_commit(factory: sessionmaker[Session], commit: Callable[[sessionmaker[Session]], None],
                   commits: int) -> float:
    """µs of this process's CPU per commit, the best of three rounds after a warm-up."""
    for _ in range(200):
        commit(factory)
    rounds = []
    for _ in range(3):
        started = time.process_time()
        for _ in range(commits):
            commit(factory)
        rounds.append((time.process_time() - started) / commits * 1e6)
    return min(rounds)


def measure(name: str, engine: Engine, commits: int) -> None:
    upgrade(engine)
    # No anchors: an anchor every 1000 records is a signature now and then, not the per-commit cost.
    factory = configure_audit(build_sessionmaker(engine), AuditSettings(anchor_every=0))
    plain, chained = cpu_per_commit(factory, bare, commits), cpu_per_commit(factory, audited, commits)
    twice = cpu_per_commit(factory, audited_twice, commits)
    print(f"{name:10}  without {plain:6.1f} µs   with one record {chained:6.1f} µs   with two {twice:6.1f} µs   "
          f"the records cost {chained - plain:6.1f} / {twice - plain:6.1f} µs CPU per commit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL: a scratch database is made and dropped there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        engine = build_engine(f"sqlite:///{directory}/audit.db")
        measure("SQLite", engine, args.commits)
        engine.dispose()
    if args.postgres is None:
        return
    admin = create_engine(normalized_url(args.postgres), isolation_level="AUTOCOMMIT")
    name = f"bridge_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = create_engine(admin.url.set(database=name))
        measure("PostgreSQL", engine, args.commits)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
