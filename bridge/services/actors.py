"""Who is acting: technical support at the CLI, or a staff member in one (or more) active roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.audit import CLI_SUPPORT_ACTOR, AuditContext
from bridge.services.errors import NotFound, PermissionDenied
from bridge.services.roles import Role
from bridge.services.signin_sessions import active_roles, is_role_active
from bridge.storage.enums import StaffStatus
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class ActingRole:
    """One role the actor holds now: the role and the organization it is held in."""

    assignment_id: int
    role: Role
    organization_id: int


@dataclass(frozen=True)
class Actor:
    """Plain values only, so an actor outlives the database session that built it.

    Technical support at the CLI has no staff record and acts with the support role's powers.
    """

    login: str | None
    staff_id: int | None
    roles: tuple[ActingRole, ...]
    address: str | None = None

    @property
    def is_cli_support(self) -> bool:
        return self.staff_id is None

    @property
    def audit_name(self) -> str:
        return self.login if self.login is not None else CLI_SUPPORT_ACTOR

    @property
    def audit_context(self) -> AuditContext:
        return AuditContext(actor=self.audit_name, address=self.address)


def cli_support_actor() -> Actor:
    return Actor(login=None, staff_id=None, roles=())


def _acting(role: RoleAssignment) -> ActingRole:
    return ActingRole(assignment_id=role.id, role=Role(role.role), organization_id=role.organization_id)


def _active_staff(db: Session, staff: StaffMember | None, login: str) -> StaffMember:
    if staff is None:
        raise NotFound("unknown_actor", f"Сотрудник с логином «{login}» не найден.", login=login)
    if staff.status != StaffStatus.ACTIVE:
        raise PermissionDenied("actor_blocked", "Учётная запись заблокирована: действовать от её имени нельзя.")
    return staff


def actor_for_login(db: Session, login: str, now: datetime | None = None) -> Actor:
    """`--acting-as LOGIN`: every role the person holds today may be used for an operation."""
    now = now or utcnow()
    staff = _active_staff(db, db.scalar(select(StaffMember).where(StaffMember.login == login)), login)
    roles = tuple(_acting(role) for role in active_roles(db, staff.id, now))
    if not roles:
        raise PermissionDenied(
            "actor_has_no_active_role", f"У сотрудника «{login}» нет действующей роли на сегодня."
        )
    return Actor(login=staff.login, staff_id=staff.id, roles=roles)


def actor_for_session_role(
    db: Session, staff_id: int, assignment_id: int, *, address: str | None = None, now: datetime | None = None
) -> Actor:
    """A signed-in administrator acts in exactly the role chosen for the session."""
    now = now or utcnow()
    staff = db.get(StaffMember, staff_id)
    staff = _active_staff(db, staff, str(staff_id))
    role = db.get(RoleAssignment, assignment_id)
    if role is None or role.staff_id != staff.id or not is_role_active(role, now):
        raise PermissionDenied("actor_has_no_active_role", "Выбранная роль больше не действует.")
    return Actor(login=staff.login, staff_id=staff.id, roles=(_acting(role),), address=address)
