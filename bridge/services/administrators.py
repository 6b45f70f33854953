"""Who looks after a person: the administrators whom a warning about their account must reach.

The issuing hierarchy decides (bridge/services/hierarchy.py): an administrator is someone who,
today, holds a role that may issue one of the person's current roles in its organization — the
director for a deputy, the district's department for a director, technical support for a
department. The same rule as the card's «above at least one of the person's roles».
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.services.actors import ActingRole, Actor
from bridge.services.hierarchy import manages_any
from bridge.services.roles import ROLES, Role
from bridge.services.signin_sessions import active_roles, is_role_active
from bridge.storage.enums import StaffStatus
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.types import utcnow

_ISSUING_ROLES = tuple(role for role in Role if ROLES[role].issues)


def administrators_of(db: Session, staff: StaffMember, now: datetime | None = None) -> list[StaffMember]:
    """Active staff above at least one of the person's current roles (not the person), by id."""
    now = now or utcnow()
    roles = active_roles(db, staff.id, now) or list(staff.roles)
    if not roles:
        return []
    organizations = {role.organization_id for role in roles}
    organizations |= {role.organization.parent_id for role in roles if role.organization.parent_id is not None}
    candidates = db.scalars(
        select(RoleAssignment)
        .where(
            RoleAssignment.role.in_(_ISSUING_ROLES),
            RoleAssignment.staff_id != staff.id,
            or_(RoleAssignment.organization_id.in_(organizations), RoleAssignment.role == Role.SUPPORT),
        )
        .order_by(RoleAssignment.staff_id, RoleAssignment.id)
    ).all()
    found: dict[int, StaffMember] = {}
    for assignment in candidates:
        person = assignment.staff
        if person.id in found or person.status != StaffStatus.ACTIVE or not is_role_active(assignment, now):
            continue
        acting = ActingRole(assignment.id, Role(assignment.role), assignment.organization_id)
        actor = Actor(login=person.login, staff_id=person.id, roles=(acting,))
        if manages_any(db, actor, roles):
            found[person.id] = person
    return list(found.values())
