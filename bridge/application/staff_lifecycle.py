"""«Заблокировать», «Разблокировать», «Отключить кабинет»: the use cases, pages and CLI alike.

Who may is the rule of a reset (above every role the person holds now); what each tears down is
`services/staff_lifecycle.py`; the person is mailed of a block and of a deactivation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.staff_cards import StaffAdminPolicy, StaffView, view_of
from bridge.application.staff_notices import notify_blocked, notify_deactivated
from bridge.application.unit_of_work import unit_of_work
from bridge.services import staff_lifecycle
from bridge.services.account_access import AccessCut
from bridge.storage.enums import DeactivationReason
from bridge.storage.types import utcnow

__all__ = [
    "AccessCut", "DeactivationReason", "StaffBlocked", "StaffDeactivated", "StaffUnblocked", "block_staff",
    "deactivate_staff", "unblock_staff",
]


@dataclass(frozen=True)
class StaffBlocked:
    staff: StaffView
    access: AccessCut


@dataclass(frozen=True)
class StaffUnblocked:
    staff: StaffView


@dataclass(frozen=True)
class StaffDeactivated:
    staff: StaffView
    access: AccessCut


def block_staff(
    database: sessionmaker[Session], principal: Principal, login: str, reason: str, policy: StaffAdminPolicy
) -> StaffBlocked:
    """Every session, refresh token and activation link ends now; no sign-in until unblocked."""
    with unit_of_work(database, audit_context_of(principal), "staff.block", login=login) as db:
        now = utcnow()
        blocked = staff_lifecycle.block_staff(db, resolve(db, principal), login, reason, now)
        notify_blocked(db, blocked.staff, blocked.staff.blocked_reason or "", now)
        return StaffBlocked(staff=view_of(db, blocked.staff, policy), access=blocked.access)


def unblock_staff(
    database: sessionmaker[Session], principal: Principal, login: str, policy: StaffAdminPolicy
) -> StaffUnblocked:
    """Sign-in through the person's bindings works again (ended sessions stay ended)."""
    with unit_of_work(database, audit_context_of(principal), "staff.unblock", login=login) as db:
        unblocked = staff_lifecycle.unblock_staff(db, resolve(db, principal), login)
        return StaffUnblocked(staff=view_of(db, unblocked.staff, policy))


def deactivate_staff(
    database: sessionmaker[Session], principal: Principal, login: str, reason: str, policy: StaffAdminPolicy
) -> StaffDeactivated:
    """Final: access ends now, the person is mailed, their data goes after the retention period."""
    with unit_of_work(
        database, audit_context_of(principal), "staff.deactivate", login=login, deactivation_reason=reason
    ) as db:
        now = utcnow()
        deactivated = staff_lifecycle.deactivate_staff(
            db, resolve(db, principal), login, reason, retention=policy.deactivated_retention, now=now
        )
        notify_deactivated(db, deactivated.staff, deactivated.removal_due, now)
        return StaffDeactivated(staff=view_of(db, deactivated.staff, policy), access=deactivated.access)
