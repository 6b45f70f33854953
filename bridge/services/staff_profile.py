"""The person's workplace data (seed 003, step 5): a position per role, the work e-mail and phone.

After the first binding, and at later sign-ins while something required is missing, the person
sees «Проверьте данные о месте работы» and confirms or completes it. Required: a position for
every role active today (one person can hold roles in two organizations under two titles) and a
work e-mail (the address notices go to). The phone is optional. The page may be skipped only when
nothing required is missing — that is, when the administrator filled it all in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import InvalidInput, PermissionDenied
from bridge.services.person_names import full_name
from bridge.services.phones import normalized_phone
from bridge.services.role_grants import POSITION_MAX
from bridge.services.roles import role_title
from bridge.services.signin_sessions import active_roles
from bridge.services.staff import checked_email, get_staff
from bridge.storage.enums import StaffStatus
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.types import utcnow

EMAIL_FIELD = "email"


@dataclass(frozen=True)
class PositionView:
    role_assignment_id: int
    role_title: str
    organization_name: str
    position: str | None


@dataclass(frozen=True)
class StaffProfile:
    """What the profile page shows and relying apps are told; plain values."""

    login: str
    full_name: str
    positions: tuple[PositionView, ...]
    email: str | None
    # The person confirmed this very address on the profile page.
    email_confirmed: bool
    phone: str | None
    confirmed_at: datetime | None
    # Required and empty: "email", or "position:<role assignment id>".
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class ProfileChanges:
    """What the person submitted: a position per active role (by assignment id), e-mail, phone."""

    positions: Mapping[int, str]
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class ProfileSaved:
    staff: StaffMember
    # Names of the fields that changed ("position", "email", "phone"): the audit keeps no values.
    changed: tuple[str, ...]
    # The address before, when the e-mail changed (it hears of the change).
    previous_email: str | None
    # The active roles the positions were written to, with their organizations.
    roles: tuple[RoleAssignment, ...] = ()


class ProfilePerson(Protocol):
    """What the profile check reads of a person: a row of them, or the values read of it."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str | None: ...


class PositionedRole(Protocol):
    """What the profile check reads of a role: a row of it, or the values read of it."""

    @property
    def id(self) -> int: ...
    @property
    def position(self) -> str | None: ...


def missing_fields(
    db: Session, staff: ProfilePerson, now: datetime | None = None, *, roles: Sequence[PositionedRole] | None = None
) -> tuple[str, ...]:
    """What the person has yet to fill in; `roles` are their active roles when the caller has them."""
    current = active_roles(db, staff.id, now) if roles is None else roles
    missing = [f"position:{role.id}" for role in current if not role.position]
    if not staff.email:
        missing.append(EMAIL_FIELD)
    return tuple(missing)


def profile_of(
    db: Session, staff: StaffMember, now: datetime | None = None, *, roles: Sequence[RoleAssignment] | None = None
) -> StaffProfile:
    """The page's view; `roles` are the person's active roles when the caller has them loaded."""
    if roles is None:
        # With their organizations (each position names one): one query for both.
        roles = active_roles(db, staff.id, now, organizations=True)
    return StaffProfile(
        login=staff.login,
        full_name=full_name(staff.surname, staff.name, staff.patronymic),
        positions=tuple(_position_view(role) for role in roles),
        email=staff.email,
        email_confirmed=bool(staff.email) and staff.confirmed_email == staff.email,
        phone=staff.phone,
        confirmed_at=staff.profile_confirmed_at,
        missing=missing_fields(db, staff, now, roles=roles),
    )


def own_profile(db: Session, actor: Actor, login: str) -> StaffMember:
    """The person's own record: nobody confirms workplace data for someone else."""
    return own_record(actor, get_staff(db, login))


def own_record(actor: Actor, staff: StaffMember) -> StaffMember:
    """`staff` if it is the actor's own, active record (`own_profile` for a record already loaded)."""
    if actor.staff_id != staff.id:
        raise PermissionDenied(
            "own_profile_only",
            "Данные о месте работы подтверждает сам сотрудник после входа. "
            "Администратор меняет их в карточке сотрудника.",
            login=staff.login,
        )
    if staff.status != StaffStatus.ACTIVE:
        raise PermissionDenied("actor_blocked", "Учётная запись заблокирована: изменить данные нельзя.")
    return staff


def complete_profile(
    db: Session, actor: Actor, staff: StaffMember, changes: ProfileChanges, now: datetime | None = None
) -> ProfileSaved:
    """Write what the person confirmed; every required field must be filled (InvalidInput if not)."""
    now = now or utcnow()
    roles = {role.id: role for role in active_roles(db, staff.id, now, organizations=True)}
    unknown = set(changes.positions) - set(roles)
    if unknown:
        raise InvalidInput("unknown_role_assignment", "Эта роль больше не действует. Обновите страницу.")
    positions: dict[int, str] = {}
    for role_id, role in roles.items():
        position = " ".join((changes.positions.get(role_id) or "").split())
        if not position:
            raise InvalidInput(
                "position_required",
                f"Укажите должность в организации «{role.organization.name}» "
                f"(роль «{role_title(role.role)}»), например: учитель математики.",
            )
        if len(position) > POSITION_MAX:
            raise InvalidInput("position_too_long", f"Должность длиннее {POSITION_MAX} символов: сократите её.")
        positions[role_id] = position
    email = checked_email(changes.email)
    if email is None:
        raise InvalidInput("email_required", "Укажите рабочую электронную почту: на неё приходят уведомления.")
    phone = normalized_phone(changes.phone) if changes.phone and changes.phone.strip() else None

    changed: list[str] = []
    moved = [(role_id, position) for role_id, position in positions.items() if roles[role_id].position != position]
    if moved:
        changed.append("position")
    previous_email = staff.email if staff.email != email else None
    if staff.email != email:
        changed.append("email")
    if staff.phone != phone:
        changed.append("phone")
    # Plain UPDATEs built once (the ORM's flush of the card and its roles cost more than the rest);
    # the loaded objects are told what was written, so nothing is left dirty for the commit.
    connection = db.connection()
    if moved:
        connection.execute(_SAVE_POSITION, [{"role_id": role, "p_position": position} for role, position in moved])
        for role_id, position in moved:
            set_committed_value(roles[role_id], "position", position)
    connection.execute(_SAVE_CONTACTS, {"staff_id": staff.id, "p_email": email, "p_phone": phone, "p_at": now})
    for name, value in (("email", email), ("phone", phone), ("confirmed_email", email), ("profile_confirmed_at", now)):
        set_committed_value(staff, name, value)
    record(
        db, actor.audit_context, "profile.completed", "success", subject_staff_id=staff.id,
        login=staff.login, changed=changed,
    )
    return ProfileSaved(staff=staff, changed=tuple(changed), previous_email=previous_email, roles=tuple(roles.values()))


_STAFF = cast(Table, StaffMember.__table__)
_ROLES = cast(Table, RoleAssignment.__table__)
_SAVE_CONTACTS = (
    update(_STAFF)
    .where(_STAFF.c.id == bindparam("staff_id"))
    .values(
        email=bindparam("p_email"), phone=bindparam("p_phone"), confirmed_email=bindparam("p_email"),
        profile_confirmed_at=bindparam("p_at"),
    )
)
_SAVE_POSITION = update(_ROLES).where(_ROLES.c.id == bindparam("role_id")).values(position=bindparam("p_position"))


def skip_profile(db: Session, actor: Actor, staff: StaffMember, now: datetime | None = None) -> None:
    """«Пропустить»: only when the administrator filled in everything required."""
    if missing_fields(db, staff, now):
        raise InvalidInput(
            "profile_incomplete",
            "Пропустить нельзя: не заполнены обязательные поля (должность и рабочая электронная почта). "
            "Заполните их — это займёт минуту.",
            login=staff.login,
        )
    record(db, actor.audit_context, "profile.skipped", "success", subject_staff_id=staff.id, login=staff.login)


def _position_view(role: RoleAssignment) -> PositionView:
    return PositionView(
        role_assignment_id=role.id,
        role_title=role_title(role.role),
        organization_name=role.organization.name,
        position=role.position,
    )
