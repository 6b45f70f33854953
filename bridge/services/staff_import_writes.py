"""The confirmed bulk import's writes: every checked row registered in a handful of statements.

A person registered one by one costs about five statements (the duplicate look-ups, the login's
look-up, the staff row, the role, the link, the letter); 5,000 of them took over a minute on
PostgreSQL, longer than a proxy waits for a page. Here the people, their roles, their links and
their letters are each one bulk INSERT (in chunks), the taken logins are read for many surnames a
query, and the audit records (one `staff.registered` and one `role.added` per person, as a single
registration writes) are chained and inserted together at commit (bridge.services.audit_chain).

What `register_person` checks, the caller has checked for every row in this same transaction
(`check_rows`: names, СНИЛС, contacts, the grant, namesakes, repeats in the file); the values are
normalized here by the same functions. A registration racing ours is refused by the unique
indexes (СНИЛС, login), which fails the whole import: all rows or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.identifiers import normalized_snils
from bridge.services.logins import unique_logins
from bridge.services.phones import normalized_phone
from bridge.services.role_grants import cleaned_position, grant_target
from bridge.services.roles import Role
from bridge.services.staff import NewStaff, checked_email, checked_names
from bridge.storage.models import Organization, RoleAssignment, StaffMember, new_uuid
from bridge.storage.search_keys import search_name_of
from bridge.storage.types import utcnow

# Rows a statement: PostgreSQL's insertmanyvalues batches further, SQLite's variable limit holds.
CHUNK = 1000
# NULLs sent as NULLs: otherwise the ORM groups rows by which keys are not None, and a file that
# alternates people with and without an e-mail becomes one INSERT a row again.
BULK = {"render_nulls": True}


@dataclass(frozen=True)
class ImportedPerson:
    staff_id: int
    login: str
    email: str | None
    # How a letter addresses them (services/person_names.given_names).
    given_names: str


def _clean(value: str | None) -> str | None:
    cleaned = " ".join(value.split()) if value else ""
    return cleaned or None


def register_people(db: Session, actor: Actor, planned: list[NewStaff]) -> list[ImportedPerson]:
    """Register every planned person with their first role, in order; the caller checked them."""
    now = utcnow()
    targets: dict[tuple[object, ...], tuple[Role, Organization]] = {}
    people: list[dict[str, object]] = []
    grants, emails, greetings = [], [], []
    for new in planned:
        surname, name, patronymic = checked_names(new.surname, new.name, new.patronymic, new.no_patronymic)
        snils, phone = _clean(new.snils), _clean(new.phone)
        grant = new.grant
        key = (grant.organization_id, grant.role, grant.start_date, grant.end_date, grant.position)
        if key not in targets:
            targets[key] = grant_target(db, actor, grant)
        grants.append((targets[key], grant.start_date, grant.end_date, cleaned_position(grant.position)))
        emails.append(checked_email(new.email))
        greetings.append(" ".join(part for part in (name, patronymic) if part))
        people.append({
            "subject": new_uuid(), "surname": surname, "name": name, "patronymic": patronymic,
            "no_patronymic": new.no_patronymic, "snils": normalized_snils(snils) if snils else None,
            "email": emails[-1], "phone": normalized_phone(phone) if phone else None,
            "note": _clean(new.note), "search_name": search_name_of(surname, name, patronymic),
            "created_at": now, "session_generation": 0,
        })
    logins = unique_logins(db, [str(person["surname"]) for person in people])
    for person, login in zip(people, logins, strict=True):
        person["login"] = login
    ids: list[int] = []
    for start in range(0, len(people), CHUNK):
        ids.extend(db.scalars(
            insert(StaffMember).returning(StaffMember.id, sort_by_parameter_order=True), people[start:start + CHUNK],
            execution_options=BULK,
        ).all())
    roles = [
        {"staff_id": staff_id, "organization_id": organization.id, "role": role, "start_date": start_date,
         "end_date": end_date, "position": position, "granted_by_id": actor.staff_id, "created_at": now}
        for staff_id, ((role, organization), start_date, end_date, position) in zip(ids, grants, strict=True)
    ]
    for start in range(0, len(roles), CHUNK):
        db.execute(insert(RoleAssignment), roles[start:start + CHUNK], execution_options=BULK)
    for staff_id, login, ((role, organization), start_date, end_date, _) in zip(ids, logins, grants, strict=True):
        _audit_registered(db, actor, staff_id, login, role, organization.id, start_date, end_date)
    return [
        ImportedPerson(staff_id, login, email, greeting)
        for staff_id, login, email, greeting in zip(ids, logins, emails, greetings, strict=True)
    ]


def _audit_registered(
    db: Session, actor: Actor, staff_id: int, login: str, role: Role, organization_id: int,
    start_date: date, end_date: date | None,
) -> None:
    """The two records a single registration writes (`register_person`, `record_role_added`)."""
    record(db, actor.audit_context, "staff.registered", "success", subject_staff_id=staff_id,
           organization_id=organization_id, login=login, role=role.value)
    record(db, actor.audit_context, "role.added", "success", subject_staff_id=staff_id,
           organization_id=organization_id, login=login, role=role.value, start_date=start_date.isoformat(),
           end_date=end_date.isoformat() if end_date else None)
