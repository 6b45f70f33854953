"""The person a relying app acts for: a live sign-in session and the role frozen into the grant.

Loaded afresh at every use of a grant (code redemption, refresh, userinfo), so ending the session
(logout, timeouts) or resetting the person's credential (a new session generation) ends every
app's access at its next call, and a role that has ended drops out of the claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, joinedload

from bridge.services.signin_sessions import (
    SessionTimeouts,
    active_roles,
    find_signin_by_sid,
    is_role_active,
    load_active_signin,
)
from bridge.storage.models import RoleAssignment, SignInSession, StaffMember
from bridge.storage.types import utcnow

# Every role of the person comes with the session (a row per role), for the `roles` claim.
WITH_PERSON_AND_ROLES = (
    joinedload(SignInSession.staff).joinedload(StaffMember.roles).joinedload(RoleAssignment.organization),
    joinedload(SignInSession.role).joinedload(RoleAssignment.organization),
)
SESSION_WITH_PERSON_AND_ROLES = (
    select(SignInSession).where(SignInSession.id == bindparam("session_id")).options(*WITH_PERSON_AND_ROLES)
)


@dataclass(frozen=True)
class GrantedRole:
    """A role and its organization, as relying apps are told of it."""

    id: int
    role: str
    organization_id: int
    organization_name: str
    organization_kind: str
    organization_district: str | None
    # The person's job title in that organization, when known.
    position: str | None = None

    @classmethod
    def of(cls, assignment: RoleAssignment) -> GrantedRole:
        organization = assignment.organization
        return cls(
            id=assignment.id,
            role=assignment.role,
            organization_id=organization.id,
            organization_name=organization.name,
            organization_kind=organization.kind,
            organization_district=organization.district,
            position=assignment.position,
        )


@dataclass(frozen=True)
class Grantee:
    staff: StaffMember
    session: SignInSession
    # The role frozen at authorization, if it is still the person's and still current.
    role: GrantedRole | None
    auth_time: datetime
    active_roles: tuple[GrantedRole, ...] = ()
    # The grant (refresh family) tokens are issued under; set at the token endpoint.
    grant_id: str | None = None

    def get_user_id(self) -> str:
        """The subject relying apps know the person by (Authlib asks the user object for it)."""
        return self.staff.subject


def load_grantee(
    db: Session,
    signin_session_id: str,
    staff_id: int,
    role_assignment_id: int | None,
    auth_time: datetime | None = None,
    *,
    timeouts: SessionTimeouts,
    now: datetime | None = None,
    with_roles: bool = True,
) -> Grantee | None:
    """The person behind a grant, if the sign-in session it came from is still alive.

    `with_roles=False` leaves out the person's other current roles (the `roles` claim): issuing a
    code does not tell them, the token and userinfo endpoints do.
    """
    now = now or utcnow()
    loaded = None
    if with_roles and db.identity_map.get(db.identity_key(SignInSession, signin_session_id)) is None:
        # The session, its person with every role, and its role: one query, found below by key
        # (held here: the identity map keeps only what is referenced).
        loaded = db.execute(SESSION_WITH_PERSON_AND_ROLES, {"session_id": signin_session_id}).unique().all()
    active = load_active_signin(db, signin_session_id, timeouts=timeouts, now=now)
    del loaded
    if active is None or active.staff.id != staff_id:
        return None
    role = granted_role(db, staff_id, role_assignment_id, now)
    return Grantee(
        staff=active.staff,
        session=active.session,
        role=GrantedRole.of(role) if role is not None else None,
        auth_time=auth_time or active.session.auth_time,
        active_roles=tuple(GrantedRole.of(current) for current in _current_roles(db, active.staff, now))
        if with_roles else (),
    )


def _current_roles(db: Session, staff: StaffMember, now: datetime) -> list[RoleAssignment]:
    """The person's current roles, from those loaded with the person when they were (no query)."""
    if "roles" in inspect(staff).unloaded:
        return active_roles(db, staff.id, now, organizations=True)
    return [role for role in staff.roles if is_role_active(role, now)]


def granted_role(
    db: Session, staff_id: int, role_assignment_id: int | None, now: datetime | None = None
) -> RoleAssignment | None:
    """The role frozen into a grant, if it still belongs to the person and is still current."""
    if role_assignment_id is None:
        return None
    role = db.get(RoleAssignment, role_assignment_id)
    if role is None or role.staff_id != staff_id or not is_role_active(role, now or utcnow()):
        return None
    return role


def session_of_sid(db: Session, subject: str, sid: str) -> str | None:
    """The id of the sign-in session a token's `sid` names, if it is this person's (indexed lookups)."""
    session = find_signin_by_sid(db, sid)
    if session is None:
        return None
    staff = db.scalar(select(StaffMember).where(StaffMember.subject == subject))
    return session.id if staff is not None and staff.id == session.staff_id else None
