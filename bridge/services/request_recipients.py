"""Who hears of a new request: the administrators who may decide it, and technical support.

A registration request is decided by whoever may issue one of the roles it could be approved with
in its organization (bridge/services/registration_requests.py, `may_decide`): the director for a
school's employees, the district's department for a director, technical support for a
department. The same people see it on their «Заявки» page, so the mail tells nobody anything
their page would not. Requests to add an organization to the registry are technical support's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.services.actors import ActingRole, Actor
from bridge.services.registration_requests import may_decide
from bridge.services.roles import ROLES, Role
from bridge.services.signin_sessions import is_role_active
from bridge.storage.enums import StaffStatus
from bridge.storage.models import Organization, RegistrationRequest, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

_ISSUING_ROLES = tuple(role for role in Role if ROLES[role].issues)


def _active_holders(db: Session, assignments: list[RoleAssignment], now: datetime) -> list[tuple[StaffMember, Actor]]:
    """Each active person with an active one of these roles, acting in that role alone (as on a page)."""
    holders: list[tuple[StaffMember, Actor]] = []
    for assignment in assignments:
        person = assignment.staff
        if person.status != StaffStatus.ACTIVE or not is_role_active(assignment, now):
            continue
        acting = ActingRole(assignment.id, Role(assignment.role), assignment.organization_id)
        holders.append((person, Actor(login=person.login, staff_id=person.id, roles=(acting,))))
    return holders


def request_deciders(db: Session, request: RegistrationRequest, now: datetime | None = None) -> list[StaffMember]:
    """Active staff who may decide the request in one of their active roles, by id; each once."""
    now = now or utcnow()
    organization = db.get(Organization, request.organization_id)
    if organization is None:
        return []
    # Only roles held in the organization itself, the one above it, or support can issue there.
    around = {organization.id} | ({organization.parent_id} if organization.parent_id is not None else set())
    candidates = db.scalars(
        select(RoleAssignment)
        .where(
            RoleAssignment.role.in_(_ISSUING_ROLES),
            or_(RoleAssignment.organization_id.in_(around), RoleAssignment.role == Role.SUPPORT),
        )
        .order_by(RoleAssignment.staff_id, RoleAssignment.id)
    ).all()
    found: dict[int, StaffMember] = {}
    for person, actor in _active_holders(db, list(candidates), now):
        if person.id not in found and may_decide(db, actor, request):
            found[person.id] = person
    return list(found.values())


def support_staff(db: Session, now: datetime | None = None) -> list[StaffMember]:
    """Active staff holding an active technical-support role, by id; each once."""
    now = now or utcnow()
    assignments = db.scalars(
        select(RoleAssignment).where(RoleAssignment.role == Role.SUPPORT).order_by(RoleAssignment.staff_id)
    ).all()
    found: dict[int, StaffMember] = {}
    for person, _actor in _active_holders(db, list(assignments), now):
        found.setdefault(person.id, person)
    return list(found.values())
