"""Giving a person their sign-in back, or a part of it away: «Сбросить пароль», «Снять блокировку входа»,
«Отвязать» and «Завершить сеансы»."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.staff_cards import StaffAdminPolicy, StaffView, view_of
from bridge.application.staff_notices import notify_binding_removed
from bridge.application.unit_of_work import unit_of_work
from bridge.mail.templates import mail_templates
from bridge.services import signin_recovery
from bridge.services.account_access import SessionsEnded
from bridge.services.credentials import CredentialRetirement, IssuedCredential
from bridge.services.moscow_time import moscow_datetime
from bridge.services.outbox import MailKind, queue_mail
from bridge.services.person_names import given_names
from bridge.services.staff_cards import StaffCard, staff_card
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class PasswordReset:
    staff: StaffView
    # Shown once, then forgotten.
    credential: IssuedCredential
    retirement: CredentialRetirement


@dataclass(frozen=True)
class SigninUnlocked:
    card: StaffCard
    counters_cleared: int


@dataclass(frozen=True)
class IdentityUnbound:
    staff: StaffView
    provider: str
    sessions: SessionsEnded


@dataclass(frozen=True)
class StaffSessionsEnded:
    staff: StaffView
    sessions: SessionsEnded


def reset_password(
    database: sessionmaker[Session], principal: Principal, login: str, policy: StaffAdminPolicy
) -> PasswordReset:
    """A new one-time password; the old one, the external bindings, sessions and refresh tokens end."""
    with unit_of_work(database, audit_context_of(principal), "credential.reset", login=login) as db:
        reset = signin_recovery.reset_password(
            db, resolve(db, principal), login, credential_ttl=policy.credential_ttl
        )
        _notify_reset(db, reset.staff)
        return PasswordReset(
            staff=view_of(db, reset.staff, policy), credential=reset.credential, retirement=reset.retirement
        )


def _notify_reset(db: Session, staff: StaffMember) -> None:
    """The person hears of a reset they may not have asked for (sent after the commit)."""
    if not staff.email:
        return
    content = mail_templates().render(
        MailKind.PASSWORD_RESET,
        {"name": given_names(staff), "login": staff.login, "when": moscow_datetime(utcnow())},
    )
    queue_mail(db, MailKind.PASSWORD_RESET, staff.email, content, staff_id=staff.id)


def unlock_password_signin(database: sessionmaker[Session], principal: Principal, login: str) -> SigninUnlocked:
    """Forget the failed passwords counted against the login, from every address."""
    with unit_of_work(database, audit_context_of(principal), "throttle.unlock", login=login) as db:
        lift = signin_recovery.unlock_password_signin(db, resolve(db, principal), login)
        return SigninUnlocked(card=staff_card(db, lift.staff), counters_cleared=lift.counters_cleared)


def unbind_external_identity(
    database: sessionmaker[Session], principal: Principal, login: str, provider: str, policy: StaffAdminPolicy
) -> IdentityUnbound:
    """«Отвязать» (`bridge staff unbind`): one provider's binding, without a reset; the person is mailed."""
    with unit_of_work(
        database, audit_context_of(principal), "binding.remove", login=login, provider=provider
    ) as db:
        now = utcnow()
        unbound = signin_recovery.unbind_external_identity(db, resolve(db, principal), login, provider, now)
        notify_binding_removed(db, unbound.staff, unbound.provider, now)
        return IdentityUnbound(staff=view_of(db, unbound.staff, policy), provider=provider, sessions=unbound.sessions)


def end_staff_sessions(
    database: sessionmaker[Session], principal: Principal, login: str, policy: StaffAdminPolicy
) -> StaffSessionsEnded:
    """«Завершить сеансы» (`bridge staff end-sessions`): signed out everywhere, apps' grants revoked."""
    with unit_of_work(database, audit_context_of(principal), "signin.end_sessions", login=login) as db:
        ended = signin_recovery.end_staff_sessions(db, resolve(db, principal), login)
        return StaffSessionsEnded(staff=view_of(db, ended.staff, policy), sessions=ended.sessions)
