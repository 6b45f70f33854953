"""«Проверьте данные о месте работы»: the person confirms, completes or skips their workplace data.

The person themself acts: from the page after signing in, or `bridge --acting-as LOGIN staff
profile LOGIN …`. Administrators fill the same fields when they register a person or add a role.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import notices
from bridge.application.principals import Principal, audit_context_of, resolve, signed_in_person
from bridge.application.unit_of_work import unit_of_work
from bridge.services import staff_profile
from bridge.services.actors import Actor
from bridge.services.errors import DomainError
from bridge.services.refusals import record_refusal
from bridge.services.signin_sessions import ActiveSignIn, SessionTimeouts, load_active_signin, record_activity
from bridge.services.staff_profile import ProfileChanges, StaffProfile, profile_of
from bridge.storage.database import transaction
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.retry import retry_once_on_disconnect

T = TypeVar("T")

__all__ = ["ProfileChanges", "ProfileCompleted", "ProfileSkipped", "StaffProfile", "complete_profile",
           "save_signed_in_profile", "show_profile", "show_signed_in_profile", "skip_profile"]


# What follows the page in the same transaction once the data is saved: the sign-in's parked
# authorization request answered (bridge/routes/profile.py), rather than a redirect back to it.
FollowUp = Callable[[Session], object]
# The same for the page itself (`save_signed_in_profile`): with the person's active roles as the save
# has just read them (with their organizations), or None when it read none.
SavedRoles = Sequence[RoleAssignment] | None
FollowUpWithRoles = Callable[[Session, SavedRoles], object]


@dataclass(frozen=True)
class ProfileCompleted:
    profile: StaffProfile
    changed: tuple[str, ...]
    followed_by: object = None


@dataclass(frozen=True)
class ProfileSkipped:
    profile: StaffProfile
    followed_by: object = None


def show_signed_in_profile(
    database: sessionmaker[Session], signin_session_id: str, timeouts: SessionTimeouts, *, address: str | None
) -> tuple[ActiveSignIn, StaffProfile] | None:
    """The page's own data for the person signed in by `signin_session_id`, in one transaction: the
    session checked and seen as `current_signin` does, then `show_profile`. None without a live session."""
    return _as_signed_in(
        database, signin_session_id, timeouts, address, "profile.show",
        lambda db, actor, staff: profile_of(db, staff_profile.own_record(actor, staff)),
    )


def save_signed_in_profile(
    database: sessionmaker[Session],
    signin_session_id: str,
    timeouts: SessionTimeouts,
    changes: ProfileChanges | None,
    *,
    address: str | None,
    then: FollowUpWithRoles | None = None,
) -> tuple[ActiveSignIn, ProfileCompleted | ProfileSkipped] | None:
    """The page's «Сохранить и продолжить» (`changes`) or «Пропустить» (None) for the person signed in
    by `signin_session_id`: the session checked, the data saved and `then` run, in one transaction.
    None without a live session."""

    def save(db: Session, actor: Actor, staff: StaffMember) -> ProfileCompleted | ProfileSkipped:
        own = staff_profile.own_record(actor, staff)
        if changes is None:
            return _skip(db, actor, own, then)
        return _complete(db, actor, own, changes, then)

    operation = "profile.skip" if changes is None else "profile.complete"
    return _as_signed_in(database, signin_session_id, timeouts, address, operation, save)


class _Attempt:
    """What an attempt got to: the session read (a lost connection after that is not retried,
    writes follow), and as whom it acts."""

    def __init__(self) -> None:
        self.read = False
        self.actor: Actor | None = None


def _as_signed_in(
    database: sessionmaker[Session],
    signin_session_id: str,
    timeouts: SessionTimeouts,
    address: str | None,
    operation: str,
    work: Callable[[Session, Actor, StaffMember], T],
) -> tuple[ActiveSignIn, T] | None:
    """`work` as the person the live session names, in the transaction that checked the session;
    a DomainError is audited as the refusal of `operation` after the rollback (as `unit_of_work` does).

    A connection lost at the session's read (the first statement, nothing written yet) is retried
    once, as `current_signin` is."""
    state = _Attempt()

    def attempt() -> tuple[ActiveSignIn, T] | None:
        with transaction(database) as db:
            active = load_active_signin(db, signin_session_id, timeouts=timeouts)
            state.read = True
            if active is None:
                return None
            record_activity(db, active.session)
            state.actor = signed_in_person(active.staff.id, active.staff.login, address=address)
            return active, work(db, state.actor, active.staff)

    try:
        return retry_once_on_disconnect(attempt, still_safe=lambda: not state.read)
    except DomainError as refusal:
        if state.actor is not None:
            record_refusal(database, state.actor.audit_context, operation, refusal, login=state.actor.login)
        raise


def show_profile(database: sessionmaker[Session], principal: Principal, login: str) -> StaffProfile:
    """The person's own workplace data, as the page shows it."""
    with unit_of_work(database, audit_context_of(principal), "profile.show", login=login) as db:
        staff = staff_profile.own_profile(db, resolve(db, principal), login)
        return profile_of(db, staff)


def complete_profile(
    database: sessionmaker[Session],
    principal: Principal,
    login: str,
    changes: ProfileChanges,
    *,
    then: FollowUp | None = None,
) -> ProfileCompleted:
    """«Сохранить и продолжить»: every required field filled; a changed e-mail is told at the old address.

    `then` runs in the same transaction once the data is saved; its answer comes back as `followed_by`.
    """
    with unit_of_work(database, audit_context_of(principal), "profile.complete", login=login) as db:
        actor = resolve(db, principal)
        return _complete(db, actor, staff_profile.own_profile(db, actor, login), changes, _without_roles(then))


def _without_roles(then: FollowUp | None) -> FollowUpWithRoles | None:
    return (lambda db, _roles: then(db)) if then is not None else None


def _complete(
    db: Session, actor: Actor, staff: StaffMember, changes: ProfileChanges, then: FollowUpWithRoles | None
) -> ProfileCompleted:
    saved = staff_profile.complete_profile(db, actor, staff, changes)
    if saved.previous_email:
        notices.email_changed(db, staff, saved.previous_email)
    profile = profile_of(db, staff, roles=saved.roles)
    return ProfileCompleted(profile, saved.changed, then(db, saved.roles) if then is not None else None)


def skip_profile(
    database: sessionmaker[Session], principal: Principal, login: str, *, then: FollowUp | None = None
) -> ProfileSkipped:
    """«Пропустить»: refused while anything required is missing; `then` as in `complete_profile`."""
    with unit_of_work(database, audit_context_of(principal), "profile.skip", login=login) as db:
        actor = resolve(db, principal)
        return _skip(db, actor, staff_profile.own_profile(db, actor, login), _without_roles(then))


def _skip(db: Session, actor: Actor, staff: StaffMember, then: FollowUpWithRoles | None) -> ProfileSkipped:
    staff_profile.skip_profile(db, actor, staff)
    return ProfileSkipped(profile_of(db, staff), then(db, None) if then is not None else None)
