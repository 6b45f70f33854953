"""The confirmed bulk import of staff (`bridge staff import FILE`) on PostgreSQL, timed.

Seeds a private database with a district, a school and its director, builds a CSV of N good rows
(every second person with an e-mail, so half of them are mailed an activation link, and a run of
shared surnames, so logins need suffixes), and times the application's `import_staff`: the check,
the registration of every row, the links, the letters and the audit records, in one transaction.
Prints the time and the rows written. Figures, not assertions.

    .venv/bin/python benchmarks/staff_import.py [--rows 5000] [--postgres URL] [--keep]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

from sqlalchemy import create_engine, func, select, text

from bridge.application.principals import ActingAs
from bridge.application.registration import ActivationLinks
from bridge.application.staff_import import ImportLimits, import_staff
from bridge.services.audit_settings import AuditSettings, configure_audit
from bridge.services.identifiers import snils_checksum
from bridge.services.roles import OrganizationKind, Role
from bridge.storage.database import build_engine, build_sessionmaker, normalized_url
from bridge.storage.migrate import upgrade
from bridge.storage.models import ActivationLink, AuditEvent, Organization, OutgoingMail, RoleAssignment, StaffMember

HEADER = "Фамилия;Имя;Отчество;СНИЛС;Электронная почта;Телефон;Организация;Роль;Должность;Дата начала"
SURNAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов")


def snils_of(number: int) -> str:
    body = f"{200_000_000 + number:09d}"
    return body + f"{snils_checksum(body):02d}"


def csv_of(rows: int, school_id: int) -> bytes:
    lines = [HEADER]
    for number in range(rows):
        surname = SURNAMES[number % len(SURNAMES)] if number % 3 == 0 else f"Учителев{number}"
        email = f"teacher{number}@example.org" if number % 2 == 0 else ""
        lines.append(f"{surname};Иван{number};;{snils_of(number)};{email};;{school_id};Ответственный (школа, СПО);;")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()

    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(normalized_url(args.postgres), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlsplit(args.postgres)._replace(path=f"/{name}").geturl()
    engine = build_engine(url)
    try:
        # No periodic anchors: they need a signing keyring, and sign once per 1,000 records anyway.
        factory = configure_audit(build_sessionmaker(engine), AuditSettings(anchor_every=0))
        upgrade(engine)
        with factory() as db, db.begin():
            department = Organization(name="Управление образования", district="Центральный",
                                      kind=OrganizationKind.EDUCATION_DEPARTMENT.value)
            db.add(department)
            db.flush()
            school = Organization(name="МБОУ СОШ № 1", kind=OrganizationKind.SCHOOL.value, district="Центральный",
                                  parent_id=department.id)
            director = StaffMember(surname="Директорова", name="Вера", patronymic="Павловна", login="director")
            db.add_all([school, director])
            db.flush()
            db.add(RoleAssignment(staff_id=director.id, organization_id=school.id, role=Role.SCHOOL_DIRECTOR.value,
                                  start_date=date.today() - timedelta(days=30)))
            school_id = school.id
        content = csv_of(args.rows, school_id)
        limits = ImportLimits(max_bytes=50 * 1024 * 1024, max_rows=args.rows)
        started = time.perf_counter()
        done = import_staff(factory, ActingAs("director"), "staff.csv", content, limits,
                            ActivationLinks("https://bridge.example/activate"))
        elapsed = time.perf_counter() - started
        with factory() as db:
            counts = {model.__tablename__: db.scalar(select(func.count()).select_from(model))
                      for model in (StaffMember, RoleAssignment, ActivationLink, OutgoingMail, AuditEvent)}
        print(f"imported {done.registered} rows ({done.mailed} mailed) in {elapsed:.2f} s "
              f"({elapsed / max(done.registered, 1) * 1000:.2f} ms a row); rows now: {counts}")
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}"'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
