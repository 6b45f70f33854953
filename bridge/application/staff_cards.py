"""Reading staff as an administrator: the people I manage, and one person's card.

`StaffView` is what every staff use case hands back: the card and the state of the person's
password sign-in, both read inside the use case's transaction, as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, resolve
from bridge.config import Settings
from bridge.services.staff import get_managed_staff
from bridge.services.staff_cards import StaffCard, managed_staff, staff_card
from bridge.services.throttle import LoginThrottle, ThrottlePolicy, login_throttle
from bridge.storage.models import StaffMember


@dataclass(frozen=True)
class StaffAdminPolicy:
    """What the settings say about administering staff."""

    # How long an issued password may wait for its first sign-in.
    credential_ttl: timedelta
    # How failed password sign-ins are counted (a card shows the person's lock).
    throttle: ThrottlePolicy

    @classmethod
    def of(cls, settings: Settings) -> StaffAdminPolicy:
        return cls(credential_ttl=settings.credential_ttl, throttle=ThrottlePolicy.of(settings))


@dataclass(frozen=True)
class StaffView:
    card: StaffCard
    # None when no failed password is counted against the login.
    signin_lock: LoginThrottle | None


def view_of(db: Session, staff: StaffMember, policy: StaffAdminPolicy) -> StaffView:
    return StaffView(card=staff_card(db, staff), signin_lock=login_throttle(db, staff.login, policy.throttle))


def list_managed_staff(
    database: sessionmaker[Session],
    principal: Principal,
    *,
    surname: str | None = None,
    organization_id: int | None = None,
) -> tuple[StaffCard, ...]:
    """People holding a role the actor could issue, by surname; `surname` matches its beginning."""
    with database() as db:
        actor = resolve(db, principal)
        return tuple(managed_staff(db, actor, surname=surname, organization_id=organization_id))


def show_staff_card(
    database: sessionmaker[Session], principal: Principal, login: str, policy: StaffAdminPolicy
) -> StaffView:
    """The card of a person the actor manages (at least one of their roles); NotFound, PermissionDenied."""
    with database() as db:
        actor = resolve(db, principal)
        return view_of(db, get_managed_staff(db, actor, login), policy)
