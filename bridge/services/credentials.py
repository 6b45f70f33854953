"""Issued credentials: the login and one-time-shown password used for the first sign-in and binding.

Only the argon2id hash is stored; the password exists in clear only inside `IssuedCredential`,
which the caller shows once and drops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.orm import Session

from bridge.services.account_access import cut_access
from bridge.services.audit import AuditContext, record
from bridge.services.errors import DomainError
from bridge.services.passwords import generate_password, hash_password, verify_password
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ExternalBinding, StaffMember
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
    return ever_held_credential(staff.password_hash, staff.credential_issued_at, lambda: bool(staff.bindings))


def ever_held_credential(password_hash: str | None, issued_at: datetime | None, bound: Callable[[], bool]) -> bool:
    """Whether a password was ever issued to the person (or they have bound an identity since):
    `bound` is asked only when neither column says so."""
    return password_hash is not None or issued_at is not None or bound()


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
    # Sessions, grants and refresh tokens; a local-password proof parked before the reset rests on
    # the old credential, and an unused activation link on the old account: gone too.
    access = cut_access(db, staff, now)
    db.expire(staff, ["bindings"])
    return CredentialRetirement(
        bindings_removed=int(getattr(bindings, "rowcount", 0) or 0),
        sessions_ended=access.sessions_ended,
        tokens_revoked=access.tokens_revoked,
    )


@dataclass(frozen=True)
class CredentialOnFile:
    """What judging an issued password needs of a staff card, read in a short transaction so that
    no transaction (nor its connection) stays open while argon2 runs."""

    staff_id: int
    password_hash: str | None = field(repr=False)
    status: StaffStatus
    issued_at: datetime | None
    expires_at: datetime | None
    used_at: datetime | None
    # Only asked when there is no hash (retired by a binding, or never issued).
    ever_held: bool


# Built once: its cache key is computed once, not at every password attempt. Plain columns, not
# the card as an object: the password step reads it, then runs the hash outside any transaction.
_STAFF = cast(Table, StaffMember.__table__)
_BINDINGS = cast(Table, ExternalBinding.__table__)
_CREDENTIAL_BY_LOGIN = select(
    _STAFF.c.id, _STAFF.c.password_hash, _STAFF.c.status, _STAFF.c.credential_issued_at,
    _STAFF.c.credential_expires_at, _STAFF.c.credential_used_at,
).where(_STAFF.c.login == bindparam("login"))
_ANY_BINDING = select(_BINDINGS.c.id).where(_BINDINGS.c.staff_id == bindparam("staff_id")).limit(1)


def read_issued_credential(db: Session, login: str) -> CredentialOnFile | None:
    """The card's credential as `judge_issued_credential` needs it; None for an unknown login."""
    if "\x00" in login:
        # No login holds one, and PostgreSQL refuses a NUL byte in a query (a 500).
        return None
    connection = db.connection()
    row = connection.execute(_CREDENTIAL_BY_LOGIN, {"login": login}).one_or_none()
    if row is None:
        return None
    ever_held = ever_held_credential(
        row.password_hash, row.credential_issued_at,
        lambda: connection.execute(_ANY_BINDING, {"staff_id": row.id}).first() is not None,
    )
    return CredentialOnFile(
        staff_id=row.id,
        password_hash=row.password_hash,
        status=StaffStatus(row.status),
        issued_at=row.credential_issued_at,
        expires_at=row.credential_expires_at,
        used_at=row.credential_used_at,
        ever_held=ever_held,
    )


def judge_issued_credential(
    on_file: CredentialOnFile | None, password: str, now: datetime | None = None
) -> CredentialOnFile:
    """`on_file` if `password` opens it now; raises CredentialRefused.

    Touches no database. Always spends one full argon2 verification, so timing tells nothing.
    """
    now = now or utcnow()
    if on_file is None:
        verify_password(None, password)
        raise CredentialRefused("unknown_login")
    matches = verify_password(on_file.password_hash, password)
    if on_file.password_hash is None:
        # Retired by a binding (or never issued): nothing to compare with.
        raise CredentialRefused("already_used" if on_file.ever_held else "wrong_password")
    if not matches:
        raise CredentialRefused("wrong_password")
    if on_file.status != StaffStatus.ACTIVE:
        raise CredentialRefused("blocked")
    if on_file.used_at is not None:
        raise CredentialRefused("already_used")
    if on_file.expires_at is None or on_file.expires_at <= now:
        raise CredentialRefused("expired")
    return on_file


def check_issued_credential(db: Session, login: str, password: str, now: datetime | None = None) -> StaffMember:
    """The staff member whose issued login and password these are; raises CredentialRefused.

    Reads only. Throttling and auditing are the caller's. The sign-in splits the read from the
    judging (bridge/application/first_signin.py), so the hash runs outside any transaction.
    """
    judged = judge_issued_credential(read_issued_credential(db, login), password, now)
    staff = db.get(StaffMember, judged.staff_id)
    assert staff is not None
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
