"""The staff list of a district with 100,000 staff on PostgreSQL, timed through HTTP.

Seeds a private database (bulk INSERTs, not the ORM) with a district of 500 schools and
kindergartens and a second district of 100 schools, N staff spread over them: every second person
is a director or head (whom the district's administrator manages), the others deputies or
responsible staff (whom only their director manages), 30 % bound to Госуслуги, a few blocked or
deactivated, some waiting for a first sign-in. Then starts the real `bridge serve` on loopback,
signs in as the district's administrator (a sign-in session and its cookie) and times, through
HTTP, the first page, a deep page, each filter and each kind of search (the search's POST and
the GET it redirects to). Prints p50/p99 per case and the EXPLAIN of the slowest. Figures, not
assertions.

    .venv/bin/python benchmarks/staff_list.py [--staff 100000] [--requests 30] [--postgres URL] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from itsdangerous import URLSafeSerializer
from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from bridge.config import Settings
from bridge.services.identifiers import snils_checksum
from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.database import build_engine, build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade
from bridge.storage.models import ExternalBinding, Organization, RoleAssignment, StaffMember
from bridge.storage.search_keys import search_name_of
from bridge.storage.types import utcnow
from bridge.web.signin_cookie import signin_cookie_name

SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
            "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов")
NAMES = ("Анна", "Мария", "Елена", "Ольга", "Иван", "Пётр", "Сергей", "Алексей", "Дмитрий", "Татьяна")
PATRONYMICS = ("Иванович", "Петрович", "Сергеевна", "Алексеевна", None)
BATCH = 5000


def snils_of(number: int) -> str:
    body = f"{100_000_000 + number:09d}"
    return body + f"{snils_checksum(body):02d}"


def seed(factory: sessionmaker[Session], staff_count: int) -> tuple[int, int, int]:
    """Returns (the district administrator's staff id, their role id, one school's id)."""
    today = date.today()
    with factory() as db, db.begin():
        department = Organization(name="Управление образования Центрального района",
                                  kind=OrganizationKind.EDUCATION_DEPARTMENT.value, district="Центральный")
        other = Organization(name="Управление образования Заречного района",
                             kind=OrganizationKind.EDUCATION_DEPARTMENT.value, district="Заречный")
        db.add_all([department, other])
        db.flush()
        organizations = []
        for number in range(600):
            kindergarten = number % 5 == 4 and number < 500
            organizations.append(Organization(
                name=f"{'МБДОУ детский сад' if kindergarten else 'МБОУ СОШ'} № {number + 1}",
                kind=(OrganizationKind.KINDERGARTEN if kindergarten else OrganizationKind.SCHOOL).value,
                district="Центральный" if number < 500 else "Заречный",
                parent_id=department.id if number < 500 else other.id,
            ))
        db.add_all(organizations)
        admin = StaffMember(surname="Начальникова", name="Вера", patronymic="Павловна", login="district_admin")
        db.add(admin)
        db.flush()
        admin_role = RoleAssignment(staff_id=admin.id, organization_id=department.id,
                                    role=Role.EDUCATION_DEPARTMENT.value, start_date=today - timedelta(days=30))
        db.add(admin_role)
        db.flush()
        org_ids = [(organization.id, organization.kind) for organization in organizations]
        admin_id, admin_role_id, school_id = admin.id, admin_role.id, org_ids[0][0]

    now = utcnow()
    for start in range(0, staff_count, BATCH):
        people, roles, bindings = [], [], []
        numbers = range(start, min(start + BATCH, staff_count))
        with factory() as db, db.begin():
            for number in numbers:
                surname, name = SURNAMES[number % len(SURNAMES)], NAMES[(number // 7) % len(NAMES)]
                patronymic = PATRONYMICS[(number // 3) % len(PATRONYMICS)]
                waiting = number % 11 == 0
                people.append({
                    "subject": str(uuid.uuid4()), "surname": surname, "name": name, "patronymic": patronymic,
                    "no_patronymic": patronymic is None, "snils": snils_of(number),
                    "search_name": search_name_of(surname, name, patronymic), "login": f"user{number:06d}",
                    "status": "blocked" if number % 97 == 0 else "deactivated" if number % 101 == 0 else "active",
                    "password_hash": "x" if waiting else None, "credential_issued_at": now if waiting else None,
                    "credential_expires_at": now + timedelta(days=30) if waiting else None,
                    "created_at": now, "session_generation": 0,
                })
            ids = db.scalars(insert(StaffMember).returning(StaffMember.id, sort_by_parameter_order=True), people).all()
            for number, staff_id in zip(numbers, ids, strict=True):
                organization_id, kind = org_ids[number % len(org_ids)]
                head = number % 2 == 0
                if kind == OrganizationKind.KINDERGARTEN.value:
                    # The seed names no role below a kindergarten's head: every second one is a
                    # head of an earlier year, ended (the list shows current roles).
                    role = Role.KINDERGARTEN_HEAD
                else:
                    role = Role.SCHOOL_DIRECTOR if head else (Role.SCHOOL_DEPUTY, Role.RESPONSIBLE)[number % 4 // 2]
                roles.append({"staff_id": staff_id, "organization_id": organization_id, "role": role.value,
                              "start_date": today - timedelta(days=number % 900), "created_at": now})
                if (number // 7) % 10 < 3:
                    bindings.append({"staff_id": staff_id, "provider": "esia", "issuer": "https://esia.bench",
                                     "subject": f"esia-{number}", "flow": "external_first", "created_at": now})
            db.execute(insert(RoleAssignment), roles)
            if bindings:
                db.execute(insert(ExternalBinding), bindings)
    with factory() as db, db.begin():
        db.execute(text("ANALYZE"))
    return admin_id, admin_role_id, school_id


def sign_in(factory: sessionmaker[Session], keys: SessionKeys, staff_id: int, role_id: int) -> str:
    """A sign-in session's cookie token (the database holds only its HMAC)."""
    with factory() as db, db.begin():
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        started = start_signin_session(db, staff, keys=keys, provider="esia", amr=["fed"],
                                       acr="urn:edu-bridge:idp:esia", lifetime=timedelta(hours=2), remember=False)
        started.record.role_assignment_id = role_id
    return started.token


def timed(client: httpx.Client, requests: int, call: object) -> list[float]:
    assert callable(call)
    call()  # warm
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        assert response.status_code in (200, 303), (response.status_code, response.text[:300])
    return samples


def report(name: str, samples: list[float], found: str = "") -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(f"{name:<42} p50 {cuts[49] * 1000:7.1f} ms   p99 {cuts[98] * 1000:7.1f} ms   {found}")


def found_of(response: httpx.Response) -> str:
    found = re.search(r"Найдено: ([^.<—]*)", response.text)
    return f"found {found.group(1).strip()}" if found else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()

    name = f"bench_staff_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(normalized_url(args.postgres), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlsplit(args.postgres)._replace(path=f"/{name}").geturl()
    env = dict(os.environ, BRIDGE_DATABASE_URL=url, BRIDGE_SECRET_KEY=secrets.token_urlsafe(48),
               BRIDGE_PUBLIC_URL=f"http://127.0.0.1:{args.port}")
    server: subprocess.Popen[bytes] | None = None
    try:
        engine = build_engine(url)
        factory = build_sessionmaker(engine)
        upgrade(engine)
        started = time.perf_counter()
        admin_id, role_id, school_id = seed(factory, args.staff)
        print(f"seeded {args.staff} staff into {name} in {time.perf_counter() - started:.1f} s")
        settings = Settings.from_environ(env)
        session_id = sign_in(factory, SessionKeys.of(settings.secret_key), admin_id, role_id)
        with factory() as db:
            # A person near the end of the order: «Дальше» from there is as deep as the list goes.
            deep_edge = db.scalar(text("SELECT id FROM staff_members ORDER BY search_name DESC, id DESC "
                                       "OFFSET 300 LIMIT 1"))
        cookie = URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session").dumps(session_id)
        bridge = Path(sys.executable).with_name("bridge")
        server = subprocess.Popen([str(bridge), "serve", "--port", str(args.port)], env=env)  # noqa: S603 - our own command
        base = f"http://127.0.0.1:{args.port}"
        with httpx.Client(base_url=base, cookies={signin_cookie_name(settings): cookie}, timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            first = client.get("/admin/staff")
            assert first.status_code == 200, first.text[:500]
            token = first.text.split('name="csrf_token" value="')[1].split('"')[0]
            print(f"the district administrator sees: {found_of(first)}; load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} CPUs")
            cases: list[tuple[str, dict[str, str]]] = [
                ("first page (50)", {}),
                ("deep page by number (offset 40,000)", {"page": "801"}),
                ("deep page by «Дальше» (its edge near the end)", {"page": "999", "after": str(deep_edge)}),
                ("page size 200", {"size": "200"}),
                ("filter: one school", {"org": str(school_id)}),
                ("filter: role kindergarten head", {"role": "kindergarten_head"}),
                ("filter: status blocked", {"status": "blocked"}),
                ("filter: unbound", {"binding": "unbound"}),
                ("filter: awaiting first sign-in", {"awaiting": "1"}),
                ("filters combined (school+unbound+active)", {"org": str(school_id), "binding": "unbound",
                                                              "status": "active"}),
            ]
            for label, query in cases:
                samples = timed(client, args.requests, lambda query=query: client.get("/admin/staff", params=query))
                report(label, samples, found_of(client.get("/admin/staff", params=query)))
            searches = [("search: surname prefix «семен»", "семен"), ("search: full name", "Петров Анна"),
                        ("search: СНИЛС with dashes", "100-000-042 " + snils_of(42)[9:]),
                        ("search: login prefix", "user0420")]
            for label, typed in searches:
                form = {"csrf_token": token, "q": typed}
                posted = client.post("/admin/staff-search", data=form)
                location = posted.headers["location"]
                post_samples = timed(client, args.requests, lambda form=form: client.post("/admin/staff-search",
                                                                                       data=form))
                get_samples = timed(client, args.requests, lambda location=location: client.get(location))
                report(label + " (GET)", get_samples, found_of(client.get(location)))
                report(label + " (POST)", post_samples)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print(f"kept database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
