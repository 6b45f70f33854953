"""How fast «Журнал» answers on a large log: the real app under uvicorn on loopback, PostgreSQL.

A district-sized directory (20 departments × 50 schools, 20 staff per school) and N audit records
spread over it, inserted directly (the hash chain's cost is benchmarks/audit_chain.py's subject:
here the rows carry placeholder hashes). Then a department's administrator and technical support
ask for the first page, a deep page, filtered pages and the CSV export of a filtered view; prints
the median and worst of several requests each. Figures, not assertions.

    .venv/bin/python benchmarks/audit_viewer.py [--records 300000] [--repeat 7] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from datetime import timedelta

import httpx
import uvicorn
from itsdangerous import URLSafeSerializer
from sqlalchemy import create_engine, select, text

from bridge.app import create_app
from bridge.config import Secret, Settings
from bridge.services.housekeeping import HousekeepingSettings
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.database import build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade
from bridge.storage.models import StaffMember
from bridge.web.signin_cookie import signin_cookie_name

DEPARTMENTS, SCHOOLS, STAFF = 20, 50, 20


# Bound parameters: :departments, :schools, :staff, :records.
_POPULATE = (
    "INSERT INTO organizations (id, name, kind, district, registry_status, created_at) "
    "VALUES (1, 'Техподдержка', 'support', '', 'active', now())",
    "INSERT INTO organizations (id, name, kind, district, registry_status, created_at) "
    "SELECT 1 + d, 'Управление ' || d, 'education_department', 'Район ' || d, 'active', now() "
    "FROM generate_series(1, :departments) d",
    "INSERT INTO organizations (id, name, kind, district, parent_id, registry_status, created_at) "
    "SELECT 100 + s, 'Школа ' || s, 'school', 'Район ' || (1 + (s - 1) / :schools), 2 + (s - 1) / :schools, "
    "'active', now() FROM generate_series(1, :departments * :schools) s",
    "SELECT setval(pg_get_serial_sequence('organizations', 'id'), 100000)",
    "INSERT INTO staff_members "
    "(id, subject, surname, name, no_patronymic, login, status, session_generation, created_at) "
    "SELECT p, gen_random_uuid()::text, 'Фамилия' || p, 'Имя', true, 'user' || p, 'active', 0, now() "
    "FROM generate_series(1, :departments * :schools * :staff) p",
    "INSERT INTO role_assignments (staff_id, organization_id, role, start_date, created_at) "
    "SELECT p, 101 + (p - 1) / :staff, 'school_deputy', current_date - 30, now() "
    "FROM generate_series(1, :departments * :schools * :staff) p",
    "INSERT INTO staff_members "
    "(id, subject, surname, name, no_patronymic, login, status, session_generation, created_at) VALUES "
    "(900001, gen_random_uuid()::text, 'Управленцева', 'Анна', true, 'dept_head', 'active', 0, now()), "
    "(900002, gen_random_uuid()::text, 'Поддержкина', 'Ольга', true, 'support_olga', 'active', 0, now())",
    "INSERT INTO role_assignments (staff_id, organization_id, role, start_date, created_at) VALUES "
    "(900001, 2, 'education_department', current_date - 30, now()), "
    "(900002, 1, 'support', current_date - 30, now())",
    "SELECT setval(pg_get_serial_sequence('staff_members', 'id'), 1000000)",
    "INSERT INTO audit_events "
    "(at, event, outcome, actor, subject_staff_id, organization_id, address, details, seq, prev_hash, hash) "
    "SELECT now() - interval '1 minute' * (525600.0 * n / :records), "
    "(ARRAY['credential.issued','throttle.unlocked','signin.completed','staff.edited','role.added'])[1 + n % 5], "
    "'success', 'user' || (1 + n % 1000), 1 + (n::bigint * 7919) % (:departments * :schools * :staff), "
    "101 + (n::bigint * 104729) % (:departments * :schools), '192.0.2.1', CAST('{}' AS json), n, '', '' "
    "FROM generate_series(1, :records) n",
    "ANALYZE",
)


def populate(engine: object, records: int) -> None:
    """Organizations, staff with roles, and `records` audit rows over the last year, in a few statements."""
    values = {"departments": DEPARTMENTS, "schools": SCHOOLS, "staff": STAFF, "records": records}
    with engine.begin() as connection:  # type: ignore[attr-defined]
        for statement in _POPULATE:
            bound = text(statement)
            connection.execute(bound, {key: value for key, value in values.items() if f":{key}" in statement})


def cookie_for(settings: Settings, factory: object, login: str) -> str:
    with factory() as db, db.begin():  # type: ignore[operator]
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        started = start_signin_session(db, staff, keys=SessionKeys.of(settings.secret_key), provider="esia",
                                       amr=["fed"], acr="urn:edu-bridge:idp:esia",
                                       lifetime=timedelta(hours=1), remember=False)
        started.record.role_assignment_id = staff.roles[0].id
    return str(URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session").dumps(started.token))


def timed(client: httpx.Client, path: str, params: dict[str, str], repeat: int) -> tuple[float, float, int]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (response.status_code, response.text[:300])
    return statistics.median(times), max(times), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--postgres", default=os.environ.get("BRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()

    admin = create_engine(normalized_url(args.postgres), isolation_level="AUTOCOMMIT")
    name = f"bridge_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name)
    engine = create_engine(url)
    server = None
    try:
        upgrade(engine)
        started = time.perf_counter()
        populate(engine, args.records)
        print(f"{args.records} audit records, {DEPARTMENTS * SCHOOLS} schools, {DEPARTMENTS * SCHOOLS * STAFF} staff "
              f"(populated in {time.perf_counter() - started:.0f} s)")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        settings = Settings(
            environment="test", secret_key=Secret("bench-secret-key-" + "x" * 32),
            database_url=url.render_as_string(hide_password=False), public_url=f"http://127.0.0.1:{port}",
            housekeeping=HousekeepingSettings(interval=None),
        )
        with tempfile.TemporaryDirectory() as _:
            server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                                   log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            factory = build_sessionmaker(engine)
            cases = [
                ("first page", {}),
                ("page 200", {"page": "200"}),
                ("event filter", {"event": "throttle."}),
                ("actor filter", {"actor": "user7"}),
                ("one month", {"from": "2026-01-01", "until": "2026-01-31"}),
                ("one school", {"org": "150"}),
            ]
            for who in ("dept_head", "support_olga"):
                cookies = {signin_cookie_name(settings): cookie_for(settings, factory, who)}
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=120) as client:
                    timed(client, "/admin/audit", {}, 2)  # warm the caches
                    for title, params in cases:
                        median, worst, size = timed(client, "/admin/audit", params, args.repeat)
                        print(f"{who:13} {title:13} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms")
                    median, worst, size = timed(client, "/admin/audit/export", {"event": "throttle.",
                                                                                "from": "2026-01-01"}, 3)
                    print(f"{who:13} {'export (CSV)':13} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms"
                          f"  {size // 1024} KiB")
    finally:
        if server is not None:
            server.should_exit = True
            time.sleep(0.5)
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
