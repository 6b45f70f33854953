"""Giving a person their sign-in back, or taking a part of it: «Сбросить пароль», «Снять блокировку
входа», «Отвязать» (one external account, without a reset) and «Завершить сеансы».

Each hands the account back to whoever holds the new password, types the next guess or binds
next, or takes it from whoever holds it now, so each needs authority over every role the person
holds now (`get_wholly_managed_staff`), not just one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.account_access import SessionsEnded, end_sessions
from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.credentials import (
    CredentialRetirement,
    IssuedCredential,
    issue_credential,
    record_issued,
    retire_federation,
)
from bridge.services.errors import NotFound
from bridge.services.staff import get_wholly_managed_staff, require_not_deactivated
from bridge.services.throttle import lift_login_throttle
from bridge.storage.models import ExternalBinding, StaffMember
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


@dataclass(frozen=True)
class Unbound:
    staff: StaffMember
    provider: str
    # Every session and app grant of the person ended with it.
    sessions: SessionsEnded


@dataclass(frozen=True)
class SessionsEnd:
    staff: StaffMember
    sessions: SessionsEnded


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


def unbind_external_identity(
    db: Session, actor: Actor, login: str, provider: str, now: datetime | None = None
) -> Unbound:
    """Remove the binding to one provider; the password stays as it is (no reset).

    The person then binds again at their next sign-in through that provider: with the issued
    password if it is still valid, else after a reset. Every session and app grant ends too: one
    of them may rest on the binding that has just been judged wrong.
    """
    now = now or utcnow()
    staff = get_wholly_managed_staff(db, actor, login, now)
    binding = db.scalar(
        select(ExternalBinding).where(ExternalBinding.staff_id == staff.id, ExternalBinding.provider == provider)
    )
    if binding is None:
        raise NotFound(
            "unknown_binding", f"У сотрудника «{staff.login}» нет привязки к «{provider}».", login=staff.login
        )
    db.delete(binding)
    db.flush()
    db.expire(staff, ["bindings"])
    ended = end_sessions(db, staff, now)
    record(
        db, actor.audit_context, "binding.removed", "success", subject_staff_id=staff.id, login=staff.login,
        provider=provider, sessions_ended=ended.sessions_ended, tokens_revoked=ended.tokens_revoked,
    )
    return Unbound(staff=staff, provider=provider, sessions=ended)


def end_staff_sessions(db: Session, actor: Actor, login: str, now: datetime | None = None) -> SessionsEnd:
    """Every browser signed in as the person is signed out, every app loses its grant; nothing else changes."""
    now = now or utcnow()
    staff = get_wholly_managed_staff(db, actor, login, now)
    ended = end_sessions(db, staff, now)
    record(
        db, actor.audit_context, "signin.sessions_ended", "success", subject_staff_id=staff.id, login=staff.login,
        sessions_ended=ended.sessions_ended, tokens_revoked=ended.tokens_revoked,
    )
    return SessionsEnd(staff=staff, sessions=ended)


def _recoverable_staff(db: Session, actor: Actor, login: str, now: datetime) -> StaffMember:
    staff = get_wholly_managed_staff(db, actor, login, now)
    require_not_deactivated(staff)
    return staff
