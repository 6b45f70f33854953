"""The person a relying app acts for: a live sign-in session and the role frozen into the grant.

Loaded afresh at every use of a grant (code redemption, refresh, userinfo), so ending the session
(logout, timeouts) or resetting the person's credential (a new session generation) ends every
app's access at its next call, and a role that has ended drops out of the claims.

The token and userinfo endpoints read it as plain columns in one statement (the session, its
person, every role of the person with its organization; for userinfo the grant too) and judge it
with the same rules as `load_active_signin`: no ORM objects are built on those hot paths (nor is
anything flushed first: those transactions change no session, person or role before the read).
The authorization endpoint reads a browser's sign-in session the same way (`load_authorizing_signin`),
unless its transaction has just opened it: the upstream callback answering the app decides on the
session as it wrote it (`opened_signin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.signin_sessions import (
    ActiveRoles,
    OpenedSession,
    SessionTimeouts,
    active_roles,
    find_signin_by_sid,
    is_person_current,
    is_role_active,
    is_session_current,
    load_active_signin,
)
from bridge.storage.models import OAuthGrant, Organization, RoleAssignment, SignInSession, StaffMember
from bridge.storage.types import utcnow

# What relying apps are told of a person (`GrantedPerson.of_row`) and of each of their roles with
# its organization (`GrantedRole.of_row`), as columns: read here with the session, and with the
# binding by a returning sign-in (services/binding.py). Labelled, so a row reads as what it describes.
PERSON_COLUMNS = (
    StaffMember.subject,
    StaffMember.login,
    StaffMember.surname,
    StaffMember.name,
    StaffMember.patronymic,
    StaffMember.email,
    StaffMember.phone,
)
ROLE_COLUMNS = (
    RoleAssignment.id.label("role_id"),
    RoleAssignment.role,
    RoleAssignment.start_date,
    RoleAssignment.end_date,
    RoleAssignment.position,
    Organization.id.label("organization_id"),
    Organization.name.label("organization_name"),
    Organization.kind.label("organization_kind"),
    Organization.district.label("organization_district"),
)
# The session, its person and every role of the person with its organization (a row per role,
# none: one row with empty role columns).
_GRANTEE_COLUMNS = (
    SignInSession.id.label("session_id"),
    SignInSession.sid,
    SignInSession.staff_id.label("session_staff_id"),
    SignInSession.session_generation.label("session_generation"),
    SignInSession.provider,
    SignInSession.amr,
    SignInSession.acr,
    SignInSession.auth_time,
    SignInSession.remember,
    SignInSession.expires_at,
    SignInSession.last_seen_at,
    SignInSession.ended_at,
    StaffMember.status.label("staff_status"),
    StaffMember.session_generation.label("staff_generation"),
    *PERSON_COLUMNS,
    *ROLE_COLUMNS,
)
_GRANTEE_BY_SESSION = (
    select(*_GRANTEE_COLUMNS)
    .select_from(SignInSession)
    .join(StaffMember, StaffMember.id == SignInSession.staff_id)
    .outerjoin(RoleAssignment, RoleAssignment.staff_id == StaffMember.id)
    .outerjoin(Organization, Organization.id == RoleAssignment.organization_id)
    .where(SignInSession.id == bindparam("session_id"))
    .order_by(RoleAssignment.id)
)
# The authorization endpoint: the same, with when the session began and the role chosen in it.
_SIGNIN_BY_SESSION = _GRANTEE_BY_SESSION.add_columns(
    SignInSession.created_at.label("session_created_at"),
    SignInSession.role_assignment_id.label("session_role_id"),
)
# Userinfo: the grant an access token names, with the same columns (empty when its session is gone).
_GRANTEE_BY_GRANT = (
    select(
        OAuthGrant.client_id.label("grant_client_id"),
        OAuthGrant.staff_id.label("grant_staff_id"),
        OAuthGrant.signin_session_id.label("grant_session_id"),
        OAuthGrant.revoked_at.label("grant_revoked_at"),
        *_GRANTEE_COLUMNS,
    )
    .select_from(OAuthGrant)
    .outerjoin(SignInSession, SignInSession.id == OAuthGrant.signin_session_id)
    .outerjoin(StaffMember, StaffMember.id == SignInSession.staff_id)
    .outerjoin(RoleAssignment, RoleAssignment.staff_id == StaffMember.id)
    .outerjoin(Organization, Organization.id == RoleAssignment.organization_id)
    .where(OAuthGrant.id == bindparam("grant_id"))
    .order_by(RoleAssignment.id)
)


@dataclass(frozen=True)
class GrantedPerson:
    """The person, as relying apps are told of them."""

    id: int
    subject: str
    login: str
    surname: str
    name: str
    patronymic: str | None
    email: str | None
    phone: str | None

    @classmethod
    def of(cls, staff: StaffMember) -> GrantedPerson:
        return cls(
            id=staff.id, subject=staff.subject, login=staff.login, surname=staff.surname, name=staff.name,
            patronymic=staff.patronymic, email=staff.email, phone=staff.phone,
        )

    @classmethod
    def of_row(cls, staff_id: int, row: Any) -> GrantedPerson:
        # A row holding PERSON_COLUMNS.
        return cls(
            id=staff_id, subject=row.subject, login=row.login, surname=row.surname, name=row.name,
            patronymic=row.patronymic, email=row.email, phone=row.phone,
        )


@dataclass(frozen=True)
class GrantedSession:
    """The sign-in session a grant came from, as far as tokens and claims need it."""

    id: str
    sid: str
    provider: str
    amr: list[str]
    acr: str | None
    auth_time: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, session: SignInSession) -> GrantedSession:
        return cls(
            id=session.id, sid=session.sid, provider=session.provider, amr=list(session.amr or ()),
            acr=session.acr, auth_time=session.auth_time, last_seen_at=session.last_seen_at,
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

    @classmethod
    def of_row(cls, row: Any) -> GrantedRole:
        # A row holding ROLE_COLUMNS.
        return cls(
            id=row.role_id,
            role=row.role,
            organization_id=row.organization_id,
            organization_name=row.organization_name,
            organization_kind=row.organization_kind,
            organization_district=row.organization_district,
            position=row.position,
        )


@dataclass(frozen=True)
class Grantee:
    staff: GrantedPerson
    session: GrantedSession
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
) -> Grantee | None:
    """The person behind a grant, if the sign-in session it came from is still alive."""
    now = now or utcnow()
    rows = db.connection().execute(_GRANTEE_BY_SESSION, {"session_id": signin_session_id}).all()
    return grantee_of_rows(rows, staff_id, role_assignment_id, auth_time, timeouts=timeouts, now=now)


@dataclass(frozen=True)
class AuthorizingSignIn:
    """A live sign-in session as the authorization endpoint decides on it, in plain values: the
    grantee a code would be issued for (its role the session's, while current and the person's; its
    active roles the person's current ones, whose positions the profile check reads) and when the
    session began (a re-authentication asked for is one begun since)."""

    grantee: Grantee
    created_at: datetime

    @property
    def session(self) -> GrantedSession:
        return self.grantee.session

    @property
    def staff(self) -> GrantedPerson:
        return self.grantee.staff

    @property
    def role(self) -> GrantedRole | None:
        return self.grantee.role


def load_authorizing_signin(
    db: Session,
    session_id: str,
    *,
    timeouts: SessionTimeouts,
    now: datetime,
    roles: ActiveRoles | None = None,
) -> AuthorizingSignIn | None:
    """The sign-in session if it is still valid (the rules of `load_active_signin`), with its person,
    its role and the person's current roles: one statement, or none when this transaction has opened
    the session (then `roles`, read with their organizations, are the person's current roles)."""
    if db.identity_map.get(db.identity_key(SignInSession, session_id)) is not None:
        return _authorizing_signin_loaded(db, session_id, timeouts=timeouts, now=now, roles=roles)
    # What this transaction has changed (a page saving the person's data first) is read back.
    db.flush()
    rows = db.connection().execute(_SIGNIN_BY_SESSION, {"session_id": session_id}).all()
    if not rows:
        return None
    first = rows[0]
    grantee = grantee_of_rows(rows, first.session_staff_id, first.session_role_id, None, timeouts=timeouts, now=now)
    return AuthorizingSignIn(grantee, first.session_created_at) if grantee is not None else None


def opened_signin(person: GrantedPerson, roles: Sequence[GrantedRole], opened: OpenedSession) -> AuthorizingSignIn:
    """The session a transaction has just opened (`insert_signin_session`) as the authorization
    endpoint decides on it, from the values that transaction wrote and read: no statement, no object.

    The rules of `load_active_signin` hold by construction: the row is new (not ended, not expired,
    seen now), its generation is the person's as just read, the caller has refused anyone not
    active, and `roles` are the person's current ones, the session's role one of them.
    """
    values = opened.values
    session = GrantedSession(
        id=values["id"], sid=values["sid"], provider=values["provider"], amr=list(values["amr"] or ()),
        acr=values["acr"], auth_time=values["auth_time"], last_seen_at=values["last_seen_at"],
    )
    role = next((granted for granted in roles if granted.id == values["role_assignment_id"]), None)
    grantee = Grantee(
        staff=person, session=session, role=role, auth_time=values["auth_time"], active_roles=tuple(roles)
    )
    return AuthorizingSignIn(grantee, values["created_at"])


def _authorizing_signin_loaded(
    db: Session, session_id: str, *, timeouts: SessionTimeouts, now: datetime, roles: ActiveRoles | None
) -> AuthorizingSignIn | None:
    active = load_active_signin(db, session_id, timeouts=timeouts, now=now)
    if active is None:
        return None
    if roles is None:
        roles = active_roles(db, active.staff.id, now, organizations=True)
    role = active.role if active.role is not None and active.role.staff_id == active.staff.id else None
    grantee = Grantee(
        staff=GrantedPerson.of(active.staff),
        session=GrantedSession.of(active.session),
        role=GrantedRole.of(role) if role is not None else None,
        auth_time=active.session.auth_time,
        active_roles=tuple(GrantedRole.of(assignment) for assignment in roles),
    )
    return AuthorizingSignIn(grantee, active.session.created_at)


@dataclass(frozen=True)
class LiveGrant:
    """A grant that is its client's and not revoked, as userinfo reads it."""

    id: str
    client_id: str
    staff_id: int
    signin_session_id: str


def read_grant_and_grantee(
    factory: sessionmaker[Session],
    grant_id: str,
    client_id: str,
    role_assignment_id: int | None,
    *,
    timeouts: SessionTimeouts,
    now: datetime,
) -> tuple[LiveGrant | None, Grantee | None]:
    """The grant an access token names if it is the client's and not revoked, and the person behind
    it if its sign-in session is still alive, read afresh by one statement (`_read_grant_rows`)
    outside any ORM session: userinfo writes nothing when it answers, so it needs no unit of work."""
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine), "a sessionmaker bound to an engine"
    rows = _read_grant_rows(engine, grant_id)
    if not rows or rows[0].grant_revoked_at is not None or rows[0].grant_client_id != client_id:
        return None, None
    first = rows[0]
    grant = LiveGrant(grant_id, first.grant_client_id, first.grant_staff_id, first.grant_session_id)
    if first.session_id is None:
        return grant, None
    return grant, grantee_of_rows(rows, grant.staff_id, role_assignment_id, None, timeouts=timeouts, now=now)


def _read_grant_rows(engine: Engine, grant_id: str) -> Sequence[Any]:
    """The rows of `_GRANTEE_BY_GRANT` and nothing else: one SELECT is atomic by itself, so on
    PostgreSQL it runs in autocommit — no BEGIN before it and no ROLLBACK after it, two round trips
    fewer. It takes no statement, so nothing that writes can reach a connection in autocommit; the
    pool puts the connection back to its transactions when it is returned (psycopg's autocommit and
    isolation level are client-side settings: no SET is sent either way). On SQLite the driver
    begins no transaction before a SELECT anyway, and resetting the level would cost a PRAGMA."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection.execute(_GRANTEE_BY_GRANT, {"grant_id": grant_id}).all()


def grantee_of_rows(
    rows: Sequence[Any],
    staff_id: int,
    role_assignment_id: int | None,
    auth_time: datetime | None,
    *,
    timeouts: SessionTimeouts,
    now: datetime,
) -> Grantee | None:
    """The grantee the rows of `_GRANTEE_COLUMNS` describe, judged as `load_active_signin` judges."""
    if not rows:
        return None
    first = rows[0]
    if not is_session_current(first, timeouts, now):
        return None
    if first.session_staff_id != staff_id or not is_person_current(
        first.staff_status, first.staff_generation, first.session_generation
    ):
        return None
    roles = [row for row in rows if row.role_id is not None]
    # The role frozen into the grant, if it is still one of the person's and still current.
    frozen = next((row for row in roles if row.role_id == role_assignment_id), None)
    if frozen is not None and not is_role_active(frozen, now):
        frozen = None
    session = GrantedSession(
        id=first.session_id, sid=first.sid, provider=first.provider, amr=list(first.amr or ()), acr=first.acr,
        auth_time=first.auth_time, last_seen_at=first.last_seen_at,
    )
    return Grantee(
        staff=GrantedPerson.of_row(first.session_staff_id, first),
        session=session,
        role=GrantedRole.of_row(frozen) if frozen is not None else None,
        auth_time=auth_time or first.auth_time,
        active_roles=tuple(GrantedRole.of_row(row) for row in roles if is_role_active(row, now)),
    )


def session_of_sid(db: Session, subject: str, sid: str) -> str | None:
    """The id of the sign-in session a token's `sid` names, if it is this person's (indexed lookups)."""
    session = find_signin_by_sid(db, sid)
    if session is None:
        return None
    staff = db.scalar(select(StaffMember).where(StaffMember.subject == subject))
    return session.id if staff is not None and staff.id == session.staff_id else None
