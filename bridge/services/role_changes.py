"""Changing a role already held: «Завершить» (an end date, by default today) and «Изменить даты».

Each is about one role, so the actor must be able to issue that role in its organization
(`hierarchy.may_manage_role`): a director ends a deputy's role, not the department's role the
same person may also hold. Dates are inclusive, as everywhere in the directory; the old and new
dates are audited (they are not personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import Conflict, NotFound, PermissionDenied
from bridge.services.hierarchy import may_manage_role
from bridge.services.role_grants import check_dates, overlaps
from bridge.services.roles import role_title
from bridge.services.staff import get_managed_staff
from bridge.storage.models import RoleAssignment, StaffMember


@dataclass(frozen=True)
class RoleChange:
    staff: StaffMember
    role: RoleAssignment
    # False when the dates asked for were the dates it had (nothing written, nothing audited).
    changed: bool


def managed_role(db: Session, actor: Actor, login: str, role_id: int) -> tuple[StaffMember, RoleAssignment]:
    """One role of a person, if the actor could issue it."""
    staff = get_managed_staff(db, actor, login)
    assignment = next((role for role in staff.roles if role.id == role_id), None)
    if assignment is None:
        raise NotFound("unknown_role_assignment", "У сотрудника нет такой роли.", login=login)
    if not may_manage_role(db, actor, assignment):
        raise PermissionDenied(
            "role_not_managed",
            f"Роль «{role_title(assignment.role)}» в «{assignment.organization.name}» выдаёт вышестоящий "
            "администратор: изменить её можете не вы.",
            login=login, organization_id=assignment.organization_id,
        )
    return staff, assignment


def end_role(db: Session, actor: Actor, login: str, role_id: int, end_date: date) -> RoleChange:
    """The role's last day becomes `end_date` (it still counts on that day)."""
    staff, assignment = managed_role(db, actor, login, role_id)
    check_dates(assignment.start_date, end_date)
    if assignment.end_date is not None and assignment.end_date <= end_date:
        raise Conflict(
            "role_already_ends",
            f"Роль и так действует только по {assignment.end_date:%d.%m.%Y}: чтобы продлить её, измените даты.",
            login=login, organization_id=assignment.organization_id,
        )
    return _set_dates(db, actor, staff, assignment, assignment.start_date, end_date, event="role.ended")


def change_role_dates(
    db: Session, actor: Actor, login: str, role_id: int, start_date: date, end_date: date | None
) -> RoleChange:
    staff, assignment = managed_role(db, actor, login, role_id)
    check_dates(start_date, end_date)
    for other in staff.roles:
        if (
            other.id != assignment.id
            and other.organization_id == assignment.organization_id
            and other.role == assignment.role
            and overlaps(other, start_date, end_date)
        ):
            raise Conflict(
                "duplicate_role",
                f"У сотрудника уже есть роль «{role_title(assignment.role)}» в «{assignment.organization.name}» "
                "на эти даты.",
                login=login, organization_id=assignment.organization_id,
            )
    return _set_dates(db, actor, staff, assignment, start_date, end_date, event="role.dates_changed")


def _set_dates(
    db: Session, actor: Actor, staff: StaffMember, assignment: RoleAssignment,
    start_date: date, end_date: date | None, *, event: str,
) -> RoleChange:
    old = (assignment.start_date, assignment.end_date)
    if old == (start_date, end_date):
        return RoleChange(staff=staff, role=assignment, changed=False)
    assignment.start_date, assignment.end_date = start_date, end_date
    db.flush()
    record(
        db, actor.audit_context, event, "success", subject_staff_id=staff.id,
        organization_id=assignment.organization_id, login=staff.login, role=assignment.role.value,
        start_date=[_iso(old[0]), _iso(start_date)], end_date=[_iso(old[1]), _iso(end_date)],
    )
    return RoleChange(staff=staff, role=assignment, changed=True)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
