"""The bridge's own sign-in sessions (SSO sessions), kept server-side so they can be ended.

The browser's cookie holds a random token; the row is keyed by its HMAC under the bridge's secret
(`SessionKeys`), found by that primary key. So the database holds no value that works as a
cookie: a copy of the table, a backup or a log of ids signs nobody in.

A session dies at its absolute end (`expires_at`), when it is ended (logout, reset, block), and
after a stretch of inactivity (the idle timeout, longer for "remember me"). Activity is written
at most once a minute per session, by one conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeAlias, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from bridge.config import Settings
from bridge.storage.enums import StaffStatus
from bridge.storage.models import RoleAssignment, SignInSession, StaffMember
from bridge.storage.types import utcnow

_WITH_PERSON_AND_ROLE = (
    joinedload(SignInSession.staff),
    joinedload(SignInSession.role).joinedload(RoleAssignment.organization),
)
# Read at every request of a signed-in person: built once, so SQLAlchemy neither rebuilds the
# statement nor recomputes its cache key per call.
_SESSION_WITH_PERSON_AND_ROLE = (
    select(SignInSession).where(SignInSession.id == bindparam("session_id")).options(*_WITH_PERSON_AND_ROLE)
)
# A sign-in opens one: written by a Core INSERT, not by the unit of work's flush.
_INSERT_SESSION = insert(cast(Table, SignInSession.__table__))
_ROLES_OF_STAFF = (
    select(RoleAssignment).where(RoleAssignment.staff_id == bindparam("staff_id")).order_by(RoleAssignment.id)
)
_ROLES_OF_STAFF_WITH_ORGANIZATIONS = _ROLES_OF_STAFF.options(joinedload(RoleAssignment.organization))

# Activity is recorded with this granularity, so a busy session costs one write a minute.
ACTIVITY_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionKeys:
    """Turns a session cookie's token into its row's key (HMAC-SHA256 under the bridge's secret)."""

    key: bytes

    @classmethod
    def of(cls, secret_key: object) -> SessionKeys:
        # Its own key, derived from the secret: no other HMAC of the bridge ever matches a session id.
        return cls(hmac.new(str(secret_key).encode(), b"bridge.signin-session-id", hashlib.sha256).digest())

    def id_of(self, token: str) -> str:
        return hmac.new(self.key, token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just started: its row, and the token only the browser's cookie will hold."""

    record: SignInSession
    token: str


@dataclass(frozen=True)
class SessionTimeouts:
    """How long a sign-in session may stay unused before it dies."""

    idle: timedelta
    remembered_idle: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SessionTimeouts:
        return cls(idle=settings.session_idle_timeout, remembered_idle=settings.remember_me_idle_timeout)

    def idle_limit(self, record: SessionState) -> timedelta:
        return self.remembered_idle if record.remember else self.idle


@dataclass(frozen=True)
class ActiveSignIn:
    """A live sign-in session with the staff member it belongs to."""

    session: SignInSession
    staff: StaffMember
    role: RoleAssignment | None


class SessionHolder(Protocol):
    """Whose session it is: the person's row, or the values read of it."""

    @property
    def id(self) -> int: ...
    @property
    def session_generation(self) -> int: ...


@dataclass(frozen=True)
class OpenedSession:
    """A session row just written (`insert_signin_session`), and the token only the cookie will hold."""

    values: Mapping[str, Any]
    token: str

    @property
    def id(self) -> str:
        return str(self.values["id"])


def start_signin_session(
    db: Session,
    staff: SessionHolder,
    *,
    keys: SessionKeys,
    provider: str,
    amr: list[str],
    acr: str | None,
    lifetime: timedelta,
    remember: bool,
    auth_time: datetime | None = None,
    role_assignment_id: int | None = None,
    now: datetime | None = None,
    address: str | None = None,
    user_agent: str | None = None,
) -> NewSession:
    """A new session; `auth_time` is when the person authenticated at the upstream provider.

    `role_assignment_id` is the role already decided (the person's only one): written with the
    row, not by an UPDATE right after it.

    Relying apps read it as our id_token's `auth_time` (and max_age is judged by it), so it is the
    upstream's moment, never the time of our callback; only when a provider gives none is it now.
    A provider clock running ahead cannot make it later than now.
    """
    opened = insert_signin_session(
        db, staff, keys=keys, provider=provider, amr=amr, acr=acr, lifetime=lifetime, remember=remember,
        auth_time=auth_time, role_assignment_id=role_assignment_id, now=now, address=address, user_agent=user_agent,
    )
    # The row is written: the object joins the session as if loaded (clean, in the identity map),
    # so the commit's flush has nothing to write and a read in this transaction selects nothing.
    record = SignInSession(**opened.values)
    make_transient_to_detached(record)
    db.add(record)
    return NewSession(record, opened.token)


def insert_signin_session(
    db: Session,
    staff: SessionHolder,
    *,
    keys: SessionKeys,
    provider: str,
    amr: list[str],
    acr: str | None,
    lifetime: timedelta,
    remember: bool,
    auth_time: datetime | None = None,
    role_assignment_id: int | None = None,
    now: datetime | None = None,
    address: str | None = None,
    user_agent: str | None = None,
) -> OpenedSession:
    """`start_signin_session`'s row, written by one Core INSERT and handed back as values: no object
    joins the ORM session (a caller that reads nothing of it through the ORM builds none)."""
    now = now or utcnow()
    authenticated_at = min(auth_time, now) if auth_time is not None else now
    token = secrets.token_urlsafe(32)
    row = {
        "id": keys.id_of(token),
        "sid": secrets.token_urlsafe(18),
        "staff_id": staff.id,
        "session_generation": staff.session_generation,
        "provider": provider,
        "amr": amr,
        "acr": acr,
        "auth_time": authenticated_at,
        "role_assignment_id": role_assignment_id,
        "remember": remember,
        "created_at": now,
        "expires_at": now + lifetime,
        "last_seen_at": now,
        # Set, not left unloaded: a check of the new session in the same transaction (the callback
        # answering the app) reads it from the identity map instead of selecting the row back.
        "ended_at": None,
        "address": address[:100] if address else None,
        "user_agent": user_agent[:300] if user_agent else None,
    }
    db.connection().execute(_INSERT_SESSION, row)
    return OpenedSession(row, token)


def load_active_signin(
    db: Session, session_id: str, *, timeouts: SessionTimeouts, now: datetime | None = None
) -> ActiveSignIn | None:
    """The session if it is still valid: not ended, not expired, not idle too long, staff active,
    no reset since."""
    now = now or utcnow()
    # One query for the session, its person and its role with the role's organization (or none at
    # all when this transaction has them already): the reads below find them in the identity map.
    record = db.identity_map.get(db.identity_key(SignInSession, session_id))
    if record is None:
        record = db.execute(_SESSION_WITH_PERSON_AND_ROLE, {"session_id": session_id}).unique().scalar_one_or_none()
    if record is None or not is_session_current(record, timeouts, now):
        return None
    staff = db.get(StaffMember, record.staff_id)
    if staff is None or not is_person_current(staff.status, staff.session_generation, record.session_generation):
        return None
    role = db.get(RoleAssignment, record.role_assignment_id) if record.role_assignment_id else None
    if role is not None and not is_role_active(role, now):
        role = None
    return ActiveSignIn(session=record, staff=staff, role=role)


class SessionState(Protocol):
    """What decides whether a sign-in session is alive: a row of it, loaded or read as columns."""

    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime: ...
    @property
    def remember(self) -> bool: ...


def is_session_current(record: SessionState, timeouts: SessionTimeouts, now: datetime) -> bool:
    """Not ended, not expired, not idle too long (`load_active_signin` and the grantee's one query)."""
    if record.ended_at is not None or record.expires_at <= now:
        return False
    return record.last_seen_at + timeouts.idle_limit(record) > now


def is_person_current(status: StaffStatus, generation: int, session_generation: int) -> bool:
    """The session's person is active and has had no credential reset since it began."""
    return status == StaffStatus.ACTIVE and generation == session_generation


def find_signin_session(db: Session, session_id: str) -> SignInSession | None:
    """A session by its id, whatever its state (callers judge liveness with load_active_signin)."""
    return db.get(SignInSession, session_id)


def find_signin_by_sid(db: Session, sid: str) -> SignInSession | None:
    """The session a token's or a hint's `sid` names: one indexed lookup."""
    return db.scalar(select(SignInSession).where(SignInSession.sid == sid))


class SeenSession(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def last_seen_at(self) -> datetime: ...


def record_activity(db: Session, record: SeenSession, now: datetime | None = None) -> bool:
    """Push the idle timeout back; writes only when the last write is over a minute old.

    `record` is the loaded row or the values read of it (then only the row is written)."""
    now = now or utcnow()
    if record.last_seen_at >= now - ACTIVITY_GRANULARITY:
        # Seen within the minute (as loaded): no statement at all.
        return False
    result = db.execute(
        update(SignInSession)
        .where(
            SignInSession.id == record.id,
            SignInSession.ended_at.is_(None),
            SignInSession.last_seen_at < now - ACTIVITY_GRANULARITY,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    touched = int(getattr(result, "rowcount", 0) or 0) == 1
    if touched and isinstance(record, SignInSession):
        # Already written: reflect it without making the object dirty (no second UPDATE).
        set_committed_value(record, "last_seen_at", now)
    return touched


def choose_session_role(db: Session, record: SignInSession, role: RoleAssignment) -> None:
    if role.staff_id != record.staff_id:
        raise ValueError("role belongs to another staff member")
    record.role_assignment_id = role.id
    db.flush()


def end_signin_session(db: Session, session_id: str, now: datetime | None = None) -> SignInSession | None:
    record = db.get(SignInSession, session_id)
    if record is not None and record.ended_at is None:
        record.ended_at = now or utcnow()
        db.flush()
    return record


def end_all_signin_sessions(db: Session, staff_id: int, now: datetime | None = None) -> int:
    """End every session of a staff member (after a password reset or block)."""
    result = db.execute(
        update(SignInSession)
        .where(SignInSession.staff_id == staff_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )
    db.flush()
    return int(getattr(result, "rowcount", 0) or 0)


class RoleDates(Protocol):
    @property
    def start_date(self) -> date: ...
    @property
    def end_date(self) -> date | None: ...


def is_role_active(role: RoleDates, now: datetime) -> bool:
    today = now.date()
    return role.start_date <= today and (role.end_date is None or role.end_date >= today)


# A person's current roles as `active_roles` gives them (what a caller that has read them hands on).
ActiveRoles: TypeAlias = Sequence[RoleAssignment]


def active_roles(
    db: Session, staff_id: int, now: datetime | None = None, *, organizations: bool = False
) -> list[RoleAssignment]:
    """The person's current roles; `organizations` loads each role's organization in the same query."""
    query = _ROLES_OF_STAFF_WITH_ORGANIZATIONS if organizations else _ROLES_OF_STAFF
    return current_roles(db.scalars(query, {"staff_id": staff_id}).unique().all(), now)


def current_roles(roles: Sequence[RoleAssignment], now: datetime | None = None) -> list[RoleAssignment]:
    """Of a person's roles loaded already (in id order), those active now: what `active_roles` reads."""
    now = now or utcnow()
    return [role for role in roles if is_role_active(role, now)]
