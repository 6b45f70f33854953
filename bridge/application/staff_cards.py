"""Reading staff as an administrator: one person's card; «Изменить данные» (the list: `staff_directory.py`).

`StaffView` is what every staff use case hands back: the card and the state of the person's
password sign-in, both read inside the use case's transaction, as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.config import Settings
from bridge.services import card_edits
from bridge.services.actors import Actor
from bridge.services.card_edits import CardEdit
from bridge.services.hierarchy import may_manage_role
from bridge.services.staff import current_roles, get_managed_staff
from bridge.services.staff_cards import StaffCard, staff_card
from bridge.services.throttle import LoginThrottle, ThrottlePolicy, login_throttle
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow

__all__ = [
    "CardEdit", "CardSaved", "StaffAdminPolicy", "StaffView", "edit_staff_card",
    "show_staff_card", "view_of",
]


@dataclass(frozen=True)
class StaffAdminPolicy:
    """What the settings say about administering staff."""

    # How long an issued password may wait for its first sign-in.
    credential_ttl: timedelta
    # How failed password sign-ins are counted (a card shows the person's lock).
    throttle: ThrottlePolicy
    # How long a deactivated person's data stays (BRIDGE_DEACTIVATED_RETENTION_DAYS): told to the
    # administrator before and to the person in the notice.
    deactivated_retention: timedelta = timedelta(days=180)

    @classmethod
    def of(cls, settings: Settings) -> StaffAdminPolicy:
        return cls(
            credential_ttl=settings.credential_ttl, throttle=ThrottlePolicy.of(settings),
            deactivated_retention=settings.housekeeping.deactivated_retention,
        )


@dataclass(frozen=True)
class StaffView:
    card: StaffCard
    # None when no failed password is counted against the login.
    signin_lock: LoginThrottle | None
    # When the housekeeping removes the data of a deactivated person (None otherwise, or done).
    personal_data_removal_due: datetime | None = None
    # What the card may offer the actor (set by `show_staff_card`; the use cases check again):
    # the roles they could end or re-date, and whether they are above all of the person's roles
    # (reset, block, deactivate, edit, unbind, end sessions).
    manageable_role_ids: frozenset[int] = frozenset()
    manages_whole_account: bool = False


@dataclass(frozen=True)
class CardSaved:
    staff: StaffView
    # The fields that changed (empty: saved as it was, nothing audited).
    changed: tuple[str, ...]


def view_of(
    db: Session, staff: StaffMember, policy: StaffAdminPolicy, actor: Actor | None = None
) -> StaffView:
    """The person's view; with `actor`, also what the card may offer them."""
    due = None
    if staff.deactivated_at is not None and staff.personal_data_removed_at is None:
        due = staff.deactivated_at + policy.deactivated_retention
    manageable: frozenset[int] = frozenset()
    whole = False
    if actor is not None:
        manageable = frozenset(role.id for role in staff.roles if may_manage_role(db, actor, role))
        current = {role.id for role in current_roles(staff, utcnow())}
        whole = current <= manageable
    return StaffView(
        card=staff_card(db, staff), signin_lock=login_throttle(db, staff.login, policy.throttle),
        personal_data_removal_due=due, manageable_role_ids=manageable, manages_whole_account=whole,
    )


def show_staff_card(
    database: sessionmaker[Session], principal: Principal, login: str, policy: StaffAdminPolicy
) -> StaffView:
    """The card of a person the actor manages (at least one of their roles); NotFound, PermissionDenied."""
    with database() as db:
        actor = resolve(db, principal)
        return view_of(db, get_managed_staff(db, actor, login), policy, actor)


def edit_staff_card(
    database: sessionmaker[Session], principal: Principal, login: str, edit: CardEdit, policy: StaffAdminPolicy
) -> CardSaved:
    """«Изменить данные» (`bridge staff edit`): ФИО, e-mail, phone, note; old → new in the audit."""
    with unit_of_work(database, audit_context_of(principal), "staff.edit", login=login) as db:
        edited = card_edits.edit_card(db, resolve(db, principal), login, edit)
        return CardSaved(staff=view_of(db, edited.staff, policy), changed=edited.changed)

