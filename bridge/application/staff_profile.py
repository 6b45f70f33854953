"""«Проверьте данные о месте работы»: the person confirms, completes or skips their workplace data.

The person themself acts: from the page after signing in, or `bridge --acting-as LOGIN staff
profile LOGIN …`. Administrators fill the same fields when they register a person or add a role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import notices
from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.services import staff_profile
from bridge.services.staff_profile import ProfileChanges, StaffProfile, profile_of

__all__ = ["ProfileChanges", "ProfileCompleted", "ProfileSkipped", "StaffProfile", "complete_profile",
           "show_profile", "skip_profile"]


# What follows the page in the same transaction once the data is saved: the sign-in's parked
# authorization request answered (bridge/routes/profile.py), rather than a redirect back to it.
FollowUp = Callable[[Session], object]


@dataclass(frozen=True)
class ProfileCompleted:
    profile: StaffProfile
    changed: tuple[str, ...]
    followed_by: object = None


@dataclass(frozen=True)
class ProfileSkipped:
    profile: StaffProfile
    followed_by: object = None


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
        staff = staff_profile.own_profile(db, actor, login)
        saved = staff_profile.complete_profile(db, actor, staff, changes)
        if saved.previous_email:
            notices.email_changed(db, staff, saved.previous_email)
        profile = profile_of(db, staff, roles=saved.roles)
        return ProfileCompleted(profile, saved.changed, then(db) if then is not None else None)


def skip_profile(
    database: sessionmaker[Session], principal: Principal, login: str, *, then: FollowUp | None = None
) -> ProfileSkipped:
    """«Пропустить»: refused while anything required is missing; `then` as in `complete_profile`."""
    with unit_of_work(database, audit_context_of(principal), "profile.skip", login=login) as db:
        actor = resolve(db, principal)
        staff = staff_profile.own_profile(db, actor, login)
        staff_profile.skip_profile(db, actor, staff)
        profile = profile_of(db, staff)
        return ProfileSkipped(profile, then(db) if then is not None else None)
