"""Issued credentials: the login and one-time-shown password used for the first sign-in and binding.

Only the argon2id hash is stored; the password exists in clear only inside `IssuedCredential`,
which the caller shows once and drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.services.activation_links import revoke_activation_links
from bridge.services.audit import AuditContext, record
from bridge.services.errors import DomainError
from bridge.services.flow_state import discard_for_staff
from bridge.services.passwords import generate_password, hash_password, verify_password
from bridge.services.signin_sessions import end_all_signin_sessions
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ExternalBinding, RefreshToken, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class IssuedCredential:
    """Shown to the administrator once, then forgotten: the password never leaves this value."""

    login: str
    password: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class CredentialRetirement:
    """What a reset tore down, for the audit log and the administrator."""

    bindings_removed: int
    sessions_ended: int
    tokens_revoked: int


_REFUSAL_MESSAGES = {
    # Unknown login and wrong password read the same: the answer must not reveal who exists.
    "unknown_login": "Неверный логин или пароль.",
    "wrong_password": "Неверный логин или пароль.",
    "expired": "Срок действия выданного пароля истёк. Попросите администратора сбросить пароль.",
    "already_used": "Этот пароль уже использован для привязки. Входите через Госуслуги (РСАА) "
    "или попросите администратора сбросить пароль.",
    "blocked": "Учётная запись заблокирована. Обратитесь к администратору вашей организации.",
}


class CredentialRefused(DomainError):
    """An issued login and password that cannot be used; `reason` says why (for the caller only)."""

    def __init__(self, reason: str) -> None:
        super().__init__("credential_refused", _REFUSAL_MESSAGES[reason])
        self.reason = reason


def has_ever_held_credential(staff: StaffMember) -> bool:
    return staff.password_hash is not None or staff.credential_issued_at is not None or bool(staff.bindings)


def issue_credential(
    db: Session, staff: StaffMember, *, ttl: timedelta, now: datetime | None = None
) -> IssuedCredential:
    """A fresh password for `staff`; any earlier password stops working at once."""
    now = now or utcnow()
    password = generate_password()
    staff.password_hash = hash_password(password)
    staff.credential_issued_at = now
    staff.credential_expires_at = now + ttl
    staff.credential_used_at = None
    db.flush()
    return IssuedCredential(login=staff.login, password=password, expires_at=now + ttl)


def retire_federation(db: Session, staff: StaffMember, now: datetime | None = None) -> CredentialRetirement:
    """After a reset the person binds again: bindings go, sessions end, refresh tokens die."""
    now = now or utcnow()
    bindings = db.execute(delete(ExternalBinding).where(ExternalBinding.staff_id == staff.id))
    staff.session_generation = staff.session_generation + 1
    sessions = end_all_signin_sessions(db, staff.id, now)
    # A local-password proof parked before the reset rests on the old credential: gone too.
    discard_for_staff(db, staff.id)
    # So does a mailed activation link: after a reset only the new password binds.
    revoke_activation_links(db, staff.id, now)
    tokens = db.execute(
        update(RefreshToken)
        .where(RefreshToken.staff_id == staff.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.flush()
    db.expire(staff, ["bindings"])
    return CredentialRetirement(
        bindings_removed=int(getattr(bindings, "rowcount", 0) or 0),
        sessions_ended=sessions,
        tokens_revoked=int(getattr(tokens, "rowcount", 0) or 0),
    )


def check_issued_credential(db: Session, login: str, password: str, now: datetime | None = None) -> StaffMember:
    """The staff member whose issued login and password these are; raises CredentialRefused.

    Reads only. Always spends one full argon2 verification, so timing tells nothing.
    Throttling and auditing are the caller's.
    """
    now = now or utcnow()
    staff = db.scalar(select(StaffMember).where(StaffMember.login == login))
    if staff is None:
        verify_password(None, password)
        raise CredentialRefused("unknown_login")
    matches = verify_password(staff.password_hash, password)
    if staff.password_hash is None:
        # Retired by a binding (or never issued): nothing to compare with.
        raise CredentialRefused("already_used" if has_ever_held_credential(staff) else "wrong_password")
    if not matches:
        raise CredentialRefused("wrong_password")
    if staff.status != StaffStatus.ACTIVE:
        raise CredentialRefused("blocked")
    if staff.credential_used_at is not None:
        raise CredentialRefused("already_used")
    if staff.credential_expires_at is None or staff.credential_expires_at <= now:
        raise CredentialRefused("expired")
    return staff


class CredentialStatus(StrEnum):
    """Where a person's issued password stands (computed, not stored)."""

    NOT_ISSUED = "not_issued"
    ISSUED = "issued"
    EXPIRED = "expired"
    # Completed a binding: sign-in now goes through the external account.
    USED = "used"


CREDENTIAL_STATUS_TITLES = {
    CredentialStatus.NOT_ISSUED: "не выдан",
    CredentialStatus.ISSUED: "выдан, ещё не использован",
    CredentialStatus.EXPIRED: "срок действия истёк",
    CredentialStatus.USED: "использован для привязки",
}


def credential_status(staff: StaffMember, now: datetime | None = None) -> CredentialStatus:
    now = now or utcnow()
    if staff.credential_used_at is not None or (staff.password_hash is None and staff.bindings):
        return CredentialStatus.USED
    if staff.password_hash is None:
        return CredentialStatus.NOT_ISSUED
    if staff.credential_expires_at is not None and staff.credential_expires_at <= now:
        return CredentialStatus.EXPIRED
    return CredentialStatus.ISSUED


def record_issued(
    db: Session,
    context: AuditContext,
    staff: StaffMember,
    credential: IssuedCredential,
    *,
    reason: str,
    organization_id: int | None,
) -> None:
    """The audit record of an issued password ("credential.issued"); never the password itself."""
    record(
        db, context, "credential.issued", "success", subject_staff_id=staff.id,
        organization_id=organization_id, login=staff.login, reason=reason,
        expires_at=credential.expires_at.isoformat(),
    )
