"""Granting a role: what an administrator asks for, whether they may, and the assignment it makes.

Registration grants a first role and «Добавить роль» another one; both go through here, so the
issuing hierarchy (`bridge/services/hierarchy.py`) is applied to every role the directory holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import InvalidInput
from bridge.services.hierarchy import authorize_issue
from bridge.services.organizations import get_organization
from bridge.services.roles import Role
from bridge.storage.models import Organization, RoleAssignment, StaffMember


@dataclass(frozen=True)
class RoleGrant:
    """A role in an organization from `start_date` (through `end_date`, if it ends)."""

    organization_id: int
    role: str
    start_date: date
    end_date: date | None = None
    # The job title in that organization, if the administrator knows it (else the person fills it in).
    position: str | None = None


POSITION_MAX = 200


def cleaned_position(value: str | None) -> str | None:
    position = " ".join((value or "").split())
    if len(position) > POSITION_MAX:
        raise InvalidInput("position_too_long", f"Должность длиннее {POSITION_MAX} символов: сократите её.")
    return position or None


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("unknown_role", f"Неизвестная роль «{value}».", role=value) from None


def check_dates(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise InvalidInput(
            "end_before_start",
            f"Конечная дата ({end:%d.%m.%Y}) раньше начальной ({start:%d.%m.%Y}).",
        )


def grant_target(db: Session, actor: Actor, grant: RoleGrant) -> tuple[Role, Organization]:
    """The role and organization of `grant` once the actor is found to be allowed to issue it."""
    role = parse_role(grant.role)
    organization = get_organization(db, grant.organization_id)
    check_dates(grant.start_date, grant.end_date)
    cleaned_position(grant.position)
    authorize_issue(db, actor, role, organization)
    return role, organization


def overlaps(assignment: RoleAssignment, start: date, end: date | None) -> bool:
    return (assignment.end_date is None or start <= assignment.end_date) and (
        end is None or assignment.start_date <= end
    )


def assign_role(
    db: Session, actor: Actor, staff: StaffMember, role: Role, organization: Organization, grant: RoleGrant
) -> RoleAssignment:
    assignment = RoleAssignment(
        staff_id=staff.id,
        organization_id=organization.id,
        role=role,
        start_date=grant.start_date,
        end_date=grant.end_date,
        position=cleaned_position(grant.position),
        granted_by_id=actor.staff_id,
    )
    db.add(assignment)
    db.flush()
    db.expire(staff, ["roles"])
    return assignment


def record_role_added(db: Session, actor: Actor, staff: StaffMember, assignment: RoleAssignment) -> None:
    record(
        db, actor.audit_context, "role.added", "success", subject_staff_id=staff.id,
        organization_id=assignment.organization_id, login=staff.login, role=assignment.role.value,
        start_date=assignment.start_date.isoformat(),
        end_date=assignment.end_date.isoformat() if assignment.end_date else None,
    )
