"""Sign-in use cases: signing in with a bound external ID, the live session, its role, signing out.

The first sign-in (proving the issued password, binding the external ID) is `first_signin.py`;
the multi-step ceremony that sequences both (upstream round trips, parked steps) is
`bridge/flows/signin.py`. Each function here owns its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.signin_refusals import SignInRefused
from bridge.config import Settings
from bridge.services.audit import AuditContext, record
from bridge.services.binding import BindingPolicy, BindingRefused, check_identity_policy, find_bound_person
from bridge.services.errors import DomainError
from bridge.services.external_identity import ExternalIdentity
from bridge.services.grantees import AuthorizingSignIn, opened_signin
from bridge.services.logout_deliveries import announce_session_end
from bridge.services.roles import ROLES, Role, role_title
from bridge.services.signin_sessions import (
    ActiveRoles,
    ActiveSignIn,
    OpenedSession,
    SessionHolder,
    SessionKeys,
    SessionTimeouts,
    active_roles,
    choose_session_role,
    end_signin_session,
    find_signin_session,
    insert_signin_session,
    load_active_signin,
    record_activity,
)
from bridge.services.staff_profile import PositionedRole, ProfilePerson, missing_fields
from bridge.services.throttle import ThrottlePolicy
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.retry import retry_once_on_disconnect
from bridge.storage.types import utcnow

# `via` of a sign-in through a binding made earlier (any other `via` has just made one).
RETURNING_SIGNIN = "binding"
BLOCKED_MESSAGE = "Учётная запись заблокирована. Обратитесь к администратору вашей организации."
DEACTIVATED_MESSAGE = (
    "Личный кабинет отключён: войти с этой учётной записью нельзя. "
    "Если это ошибка, обратитесь к администратору вашей организации."
)


@dataclass(frozen=True)
class SignInRules:
    """The settings every sign-in step is judged by, read once from Settings."""

    binding: BindingPolicy
    session_ttl: timedelta
    remember_me_ttl: timedelta
    timeouts: SessionTimeouts
    throttle: ThrottlePolicy
    # How long a parked step (round trip, pending binding, password proof) waits for the browser.
    step_ttl: timedelta
    # A new session's cookie token → its row's key.
    session_keys: SessionKeys

    @classmethod
    def of(cls, settings: Settings) -> SignInRules:
        return cls(
            binding=BindingPolicy(
                require_confirmed_esia_account=settings.require_confirmed_esia_account,
                require_name_match=settings.require_name_match,
            ),
            session_ttl=settings.session_ttl,
            remember_me_ttl=settings.remember_me_ttl,
            timeouts=SessionTimeouts.of(settings),
            throttle=ThrottlePolicy.of(settings),
            step_ttl=settings.pending_binding_ttl,
            session_keys=SessionKeys.of(settings.secret_key),
        )


@dataclass(frozen=True)
class SessionStarted:
    signin_session_id: str
    # What the browser's cookie holds (the row is keyed by its HMAC, see signin_sessions.SessionKeys).
    cookie_token: str
    remember: bool
    # True unless exactly one role is active: the person chooses one, or learns they have none.
    needs_role_choice: bool
    # «Проверьте данные о месте работы» comes first: just bound, or something required is missing.
    profile_due: bool = False
    # What the caller's follow-up answered in the same transaction (see returning_sign_in).
    followed_by: object = None
    # The new row as written (no ORM object is built of it).
    opened: OpenedSession | None = field(default=None, repr=False, compare=False)
    # A returning sign-in's new session as the authorization endpoint decides on it, built from what
    # its transaction wrote and read, so that a follow-up in it (the callback answering the app)
    # neither selects the session, person and roles back nor builds objects of them.
    authorizing: AuthorizingSignIn | None = field(default=None, repr=False, compare=False)

    @property
    def page_due(self) -> bool:
        """The person has a page of ours to go through before anything else (role or workplace data)."""
        return self.needs_role_choice or self.profile_due


# What a returning sign-in does next in its own transaction when no page of ours is due: the
# upstream callback answering the relying app that sent the person (bridge/routes/signin.py).
FollowUp = Callable[[Session, SessionStarted], object]


@dataclass(frozen=True)
class RoleOption:
    role_assignment_id: int
    role_title: str
    # "руководитель" or "сотрудник", as the person sees it at the first sign-in in the seed.
    status_title: str
    organization_name: str


@dataclass(frozen=True)
class RoleChosen:
    organization_id: int
    role: str
    # What `then` returned: the relying app's answer when the choice was on the way to one.
    followed_by: object = None


@dataclass(frozen=True)
class SignedOut:
    # False when the session had already ended (or never existed): nothing was written.
    ended: bool


class RoleUnavailable(DomainError):
    """The role is not one of the person's active roles (ended meanwhile, or someone else's)."""

    def __init__(self) -> None:
        super().__init__("role_unavailable", "Эта роль сейчас недоступна. Выберите другую.")


def returning_sign_in(
    db: Session,
    audit: AuditContext,
    identity: ExternalIdentity,
    *,
    remember: bool,
    replaces_session: str | None,
    rules: SignInRules,
    follow_up: FollowUp | None = None,
) -> SessionStarted | None:
    """A returning sign-in in the caller's unit of work (the upstream callback's one): the bound
    person gets a session; None when nobody is bound yet.

    The provider's policies (confirmed account, acr) hold at every sign-in, not only at binding.
    Raises SignInRefused (audited as `signin.refused`) for a policy or a blocked account.
    When no page is due, `follow_up` runs in the same unit of work and its answer comes back as
    `followed_by`: one transaction for the session, its audit record and what follows.
    """
    now = utcnow()
    staff = find_bound_person(db, identity, now)
    if staff is None:
        return None
    try:
        check_identity_policy(identity, rules.binding)
    except BindingRefused as refusal:
        raise SignInRefused(
            refusal.code, refusal.message, event="signin.refused", provider=identity.provider, reason=refusal.code
        ) from refusal
    if staff.status == StaffStatus.DEACTIVATED:
        raise SignInRefused(
            "deactivated", DEACTIVATED_MESSAGE, event="signin.refused", provider=identity.provider,
            reason="deactivated",
        )
    if staff.status != StaffStatus.ACTIVE:
        raise SignInRefused(
            "blocked", BLOCKED_MESSAGE, event="signin.refused", provider=identity.provider, reason="blocked"
        )
    roles = staff.current_roles(now)
    started = open_session(
        db, audit, staff, identity, remember=remember, replaces_session=replaces_session, via=RETURNING_SIGNIN,
        rules=rules, roles=roles, now=now,
    )
    if follow_up is None or started.page_due:
        return started
    assert started.opened is not None
    started = replace(started, authorizing=opened_signin(staff.person, roles, started.opened))
    return replace(started, followed_by=follow_up(db, started))


class SessionPerson(SessionHolder, ProfilePerson, Protocol):
    """Whom a session is opened for: the person's row, or the values a returning sign-in read of it."""


def open_session(
    db: Session,
    audit: AuditContext,
    staff: SessionPerson,
    identity: ExternalIdentity,
    *,
    remember: bool,
    replaces_session: str | None,
    via: str,
    rules: SignInRules,
    roles: Sequence[PositionedRole] | None = None,
    now: datetime | None = None,
) -> SessionStarted:
    """Start the person's sign-in session inside the caller's unit of work (both sign-in kinds).

    `roles` are the person's active roles when the caller has read them (the returning sign-in,
    with the binding); otherwise they are read here. The session's row is written by one INSERT
    and no object is built of it: nothing in these transactions reads it back through the ORM.
    """
    if replaces_session is not None:
        # After a re-authentication the old session ends: one browser, one sign-in session.
        end_signin_session(db, replaces_session)
    if roles is None:
        roles = active_roles(db, staff.id)
    opened = insert_signin_session(
        db,
        staff,
        keys=rules.session_keys,
        provider=identity.provider,
        amr=["fed", *identity.amr],
        acr=f"urn:edu-bridge:idp:{identity.provider}",
        lifetime=rules.remember_me_ttl if remember else rules.session_ttl,
        remember=remember,
        auth_time=identity.auth_time,
        address=audit.address,
        user_agent=audit.user_agent,
        # One role: it is the session's from the start.
        role_assignment_id=roles[0].id if len(roles) == 1 else None,
        now=now,
    )
    record(
        db, audit, "signin.success", "success",
        subject_staff_id=staff.id, provider=identity.provider, via=via, remember=remember,
    )
    # Every sign-in but a returning one has just made a binding: the person checks their workplace data.
    profile_due = via != RETURNING_SIGNIN or bool(missing_fields(db, staff, roles=roles))
    # Several roles: the person picks one. None: the role page says so rather than a bare account.
    return SessionStarted(
        opened.id, opened.token, remember, needs_role_choice=len(roles) != 1, profile_due=profile_due,
        opened=opened,
    )


def current_signin(
    database: sessionmaker[Session], signin_session_id: str, timeouts: SessionTimeouts
) -> ActiveSignIn | None:
    """The live sign-in session, or None. Loaded objects come back detached.

    Being seen at the bridge is activity: it pushes the session's idle timeout back. Retried once on
    a connection lost under it (every page asks this first): a read and an idempotent touch.
    """

    def look_up() -> ActiveSignIn | None:
        with transaction(database) as db:
            active = load_active_signin(db, signin_session_id, timeouts=timeouts)
            if active is not None:
                record_activity(db, active.session)
                # Load what callers read after the session closes.
                _ = active.role.organization if active.role else None
            return active

    return retry_once_on_disconnect(look_up)


def role_options(database: sessionmaker[Session], staff_id: int) -> list[RoleOption]:
    with database() as db:
        return [
            RoleOption(
                role_assignment_id=assignment.id,
                role_title=role_title(assignment.role),
                status_title="руководитель" if ROLES[Role(assignment.role)].is_head else "сотрудник",
                organization_name=assignment.organization.name,
            )
            for assignment in active_roles(db, staff_id)
        ]


def choose_role(
    database: sessionmaker[Session],
    audit: AuditContext,
    signin_session_id: str,
    role_assignment_id: int,
    *,
    then: Callable[[Session, ActiveRoles], object] | None = None,
) -> RoleChosen:
    """Set the session's role; raises RoleUnavailable unless it is one of the person's active roles.

    `then` runs in the same transaction once the role is set, with the person's roles as just read
    (with their organizations): the role page answering the relying app's parked request.
    """
    with transaction(database) as db:
        session = find_signin_session(db, signin_session_id)
        roles = active_roles(db, session.staff_id, organizations=True) if session is not None else []
        chosen = next((role for role in roles if role.id == role_assignment_id), None)
        if session is None or chosen is None:
            raise RoleUnavailable()
        choose_session_role(db, session, chosen)
        record(
            db, audit, "signin.role_chosen", "success",
            subject_staff_id=session.staff_id, organization_id=chosen.organization_id, role=chosen.role,
        )
        followed_by = then(db, roles) if then is not None else None
        return RoleChosen(chosen.organization_id, chosen.role, followed_by)


def sign_out(database: sessionmaker[Session], audit: AuditContext, signin_session_id: str) -> SignedOut:
    with transaction(database) as db:
        # Apps used in this session hear of its end (after commit), before it ends.
        announce_session_end(db, signin_session_id)
        session = end_signin_session(db, signin_session_id)
        if session is None:
            return SignedOut(ended=False)
        record(db, audit, "signin.logout", "success", subject_staff_id=session.staff_id)
        return SignedOut(ended=True)
