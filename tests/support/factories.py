"""Directory objects for tests that need them as a precondition (not as the thing under test)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from sqlalchemy.orm import Session

from bridge.services.passwords import hash_password
from bridge.services.roles import OrganizationKind, Role
from bridge.storage.models import Organization, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

_sequence = count(1)


def make_organization(
    db: Session,
    *,
    name: str | None = None,
    kind: OrganizationKind = OrganizationKind.SCHOOL,
    district: str = "Дзержинский",
    parent: Organization | None = None,
) -> Organization:
    number = next(_sequence)
    organization = Organization(
        name=name or f"МБОУ СОШ № {number}",
        kind=kind.value,
        district=district,
        parent_id=parent.id if parent else None,
    )
    db.add(organization)
    db.flush()
    return organization


def make_staff(
    db: Session,
    *,
    surname: str = "Иванова",
    name: str = "Мария",
    patronymic: str | None = "Петровна",
    login: str | None = None,
    password: str | None = None,
    snils: str | None = None,
    credential_ttl: timedelta = timedelta(days=30),
) -> StaffMember:
    """A staff member; with `password`, holding that freshly issued credential."""
    now = utcnow()
    staff = StaffMember(
        surname=surname,
        name=name,
        patronymic=patronymic,
        no_patronymic=patronymic is None,
        login=login or f"user{next(_sequence)}",
        snils=snils,
    )
    if password is not None:
        staff.password_hash = hash_password(password)
        staff.credential_issued_at = now
        staff.credential_expires_at = now + credential_ttl
    db.add(staff)
    db.flush()
    return staff


def give_role(
    db: Session,
    staff: StaffMember,
    organization: Organization,
    role: Role,
    *,
    start: date | None = None,
    end: date | None = None,
) -> RoleAssignment:
    assignment = RoleAssignment(
        staff_id=staff.id,
        organization_id=organization.id,
        role=role.value,
        start_date=start or date.today() - timedelta(days=1),
        end_date=end,
    )
    db.add(assignment)
    db.flush()
    return assignment
