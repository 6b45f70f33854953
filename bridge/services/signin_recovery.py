"""Giving a person their sign-in back: «Сбросить пароль» and «Снять блокировку входа».

Both hand the account back to whoever holds the new password or types the next guess, so both
need authority over every role the person holds now (`authorize_manage`), not just one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.credentials import (
    CredentialRetirement,
    IssuedCredential,
    issue_credential,
    record_issued,
    retire_federation,
)
from bridge.services.hierarchy import authorize_manage
from bridge.services.staff import get_managed_staff
from bridge.services.throttle import lift_login_throttle
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class CredentialReset:
    staff: StaffMember
    credential: IssuedCredential
    retirement: CredentialRetirement


@dataclass(frozen=True)
class ThrottleLift:
    staff: StaffMember
    counters_cleared: int


def reset_password(
    db: Session, actor: Actor, login: str, *, credential_ttl: timedelta, now: datetime | None = None
) -> CredentialReset:
    """A new password; the old one, the bindings and every session and refresh token die at once."""
    now = now or utcnow()
    staff = _recoverable_staff(db, actor, login, now)
    credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
    retirement = retire_federation(db, staff, now)
    record(
        db, actor.audit_context, "credential.reset", "success", subject_staff_id=staff.id,
        login=staff.login, expires_at=credential.expires_at.isoformat(),
        bindings_removed=retirement.bindings_removed, sessions_ended=retirement.sessions_ended,
        tokens_revoked=retirement.tokens_revoked,
    )
    record_issued(db, actor.audit_context, staff, credential, reason="reset", organization_id=None)
    return CredentialReset(staff=staff, credential=credential, retirement=retirement)


def unlock_password_signin(db: Session, actor: Actor, login: str, now: datetime | None = None) -> ThrottleLift:
    """Forget the failed passwords counted against the person's login.

    Counters of the login from every address go; an address's own budget (all logins from there)
    stays, as it is not this person's.
    """
    now = now or utcnow()
    staff = _recoverable_staff(db, actor, login, now)
    cleared = lift_login_throttle(db, staff.login)
    record(
        db, actor.audit_context, "throttle.unlocked", "success", subject_staff_id=staff.id,
        login=staff.login, counters_cleared=cleared,
    )
    return ThrottleLift(staff=staff, counters_cleared=cleared)


def _recoverable_staff(db: Session, actor: Actor, login: str, now: datetime) -> StaffMember:
    staff = get_managed_staff(db, actor, login)
    authorize_manage(db, actor, _current_roles(staff, now))
    return staff


def _current_roles(staff: StaffMember, now: datetime) -> list[RoleAssignment]:
    """Roles not yet ended; a person whose roles all ended is judged by their past roles."""
    today = now.date()
    current = [role for role in staff.roles if role.end_date is None or role.end_date >= today]
    return current or list(staff.roles)
