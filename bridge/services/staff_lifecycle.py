"""A cabinet's end of life: blocking, unblocking, switching it off, and later removing the person's data.

Who may: an administrator above every role the person holds now, as for a reset
(`get_wholly_managed_staff`): each of these takes the whole account away or gives it back.
A block or a deactivation cuts every way in at once (`account_access.cut_access`), and every
sign-in path refuses a person who is not active: the sign-in session, the federated sign-in, the
issued password, a refresh token, userinfo.

A deactivation is final. The person's data stays for a retention period (a dispute, a question
from the organization), then the housekeeping removes what the bridge no longer needs — ФИО,
СНИЛС, contacts, the bindings to external accounts, the personal details beside audit records —
and the audit trail stays, naming the person by staff id and login only (152-ФЗ).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.orm import Session

from bridge.services.account_access import AccessCut, cut_access
from bridge.services.actors import Actor
from bridge.services.audit import HOUSEKEEPING_ACTOR, AuditContext, record
from bridge.services.errors import Conflict, InvalidInput
from bridge.services.flow_state import discard_for_staff
from bridge.services.staff import get_wholly_managed_staff, require_not_deactivated
from bridge.storage.enums import DeactivationReason, StaffStatus
from bridge.storage.models import (
    ActivationLink,
    AuditPersonalDetails,
    ExternalBinding,
    OutgoingMail,
    RegistrationRequest,
    StaffMember,
    ThrottleCounter,
)
from bridge.storage.types import utcnow

REASON_MAX_LENGTH = 500

@dataclass(frozen=True)
class Blocked:
    staff: StaffMember
    access: AccessCut


@dataclass(frozen=True)
class Unblocked:
    staff: StaffMember


@dataclass(frozen=True)
class Deactivated:
    staff: StaffMember
    access: AccessCut
    # When the housekeeping removes the person's data.
    removal_due: datetime


@dataclass(frozen=True)
class PersonalDataRemoved:
    staff_id: int
    login: str
    bindings_removed: int
    mail_removed: int
    requests_cleared: int


def block_staff(db: Session, actor: Actor, login: str, reason: str, now: datetime | None = None) -> Blocked:
    """Blocked until unblocked: every session ends now, nothing signs in, the bindings stay."""
    now = now or utcnow()
    staff = get_wholly_managed_staff(db, actor, login, now)
    require_not_deactivated(staff)
    if staff.status == StaffStatus.BLOCKED:
        raise Conflict("already_blocked", f"Учётная запись «{staff.login}» уже заблокирована.", login=staff.login)
    why = _reason(reason)
    staff.status = StaffStatus.BLOCKED
    staff.blocked_at = now
    staff.blocked_reason = why
    staff.blocked_by = actor.audit_context.actor
    access = cut_access(db, staff, now)
    record(
        db, actor.audit_context, "staff.blocked", "success", subject_staff_id=staff.id, login=staff.login,
        sessions_ended=access.sessions_ended, tokens_revoked=access.tokens_revoked,
        links_revoked=access.links_revoked, personal={"reason": why},
    )
    return Blocked(staff=staff, access=access)


def unblock_staff(db: Session, actor: Actor, login: str, now: datetime | None = None) -> Unblocked:
    """Sign-in through the person's bindings (and an issued password still valid) works again."""
    now = now or utcnow()
    staff = get_wholly_managed_staff(db, actor, login, now)
    require_not_deactivated(staff)
    if staff.status != StaffStatus.BLOCKED:
        raise Conflict("not_blocked", f"Учётная запись «{staff.login}» не заблокирована.", login=staff.login)
    blocked_at = staff.blocked_at
    staff.status = StaffStatus.ACTIVE
    staff.blocked_at = staff.blocked_reason = staff.blocked_by = None
    db.flush()
    record(
        db, actor.audit_context, "staff.unblocked", "success", subject_staff_id=staff.id, login=staff.login,
        blocked_at=blocked_at.isoformat() if blocked_at else None,
    )
    return Unblocked(staff=staff)


def deactivate_staff(
    db: Session, actor: Actor, login: str, reason: str, *, retention: timedelta, now: datetime | None = None
) -> Deactivated:
    """«Отключить кабинет»: final. The password goes now, the personal data after `retention`."""
    now = now or utcnow()
    why = parse_deactivation_reason(reason)
    staff = get_wholly_managed_staff(db, actor, login, now)
    require_not_deactivated(staff)
    staff.status = StaffStatus.DEACTIVATED
    staff.deactivated_at = now
    staff.deactivation_reason = why
    staff.password_hash = None
    staff.credential_expires_at = None
    access = cut_access(db, staff, now)
    removal_due = now + retention
    record(
        db, actor.audit_context, "staff.deactivated", "success", subject_staff_id=staff.id, login=staff.login,
        reason=why.value, sessions_ended=access.sessions_ended, tokens_revoked=access.tokens_revoked,
        links_revoked=access.links_revoked, personal_data_removal_due=removal_due.isoformat(),
    )
    return Deactivated(staff=staff, access=access, removal_due=removal_due)


def parse_deactivation_reason(value: str) -> DeactivationReason:
    if not value:
        raise InvalidInput("reason_required", "Укажите причину отключения кабинета.")
    try:
        return DeactivationReason(value)
    except ValueError:
        raise InvalidInput("unknown_reason", f"Неизвестная причина отключения «{value}».") from None


def _reason(value: str) -> str:
    reason = " ".join(value.split()) if value else ""
    if not reason:
        raise InvalidInput("reason_required", "Укажите причину блокировки.")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput("reason_too_long", f"Причина длиннее {REASON_MAX_LENGTH} знаков: сократите её.")
    return reason


# --- the removal of personal data -------------------------------------------------------------


def removal_due(retention: timedelta, now: datetime) -> ColumnElement[bool]:
    """Deactivated more than `retention` ago, data still there (the housekeeping's rule)."""
    return and_(
        StaffMember.status == StaffStatus.DEACTIVATED,
        StaffMember.deactivated_at <= now - retention,
        StaffMember.personal_data_removed_at.is_(None),
    )


def remove_due_personal_data(db: Session, retention: timedelta, now: datetime, *, limit: int) -> int:
    """Remove the data of up to `limit` people whose retention has run out; how many were done."""
    due = db.scalars(select(StaffMember.id).where(removal_due(retention, now)).order_by(StaffMember.id).limit(limit))
    return sum(1 for staff_id in list(due) if remove_personal_data(db, staff_id, now) is not None)


def remove_personal_data(db: Session, staff_id: int, now: datetime | None = None) -> PersonalDataRemoved | None:
    """Everything that names the person goes; the staff id, login and `sub` stay as the pseudonym
    the audit trail and relying apps know. None when another worker took the person first.

    The claim is one conditional UPDATE, so two workers purging at once never do it twice.
    """
    now = now or utcnow()
    claimed = db.execute(
        update(StaffMember)
        .where(StaffMember.id == staff_id, StaffMember.status == StaffStatus.DEACTIVATED,
               StaffMember.personal_data_removed_at.is_(None))
        .values(
            personal_data_removed_at=now, surname="", name="", patronymic=None, search_name="",
            no_patronymic=False, snils=None,
            email=None, confirmed_email=None, phone=None, note=None, blocked_reason=None, password_hash=None,
        )
        .execution_options(synchronize_session=False)
    )
    if int(getattr(claimed, "rowcount", 0) or 0) != 1:
        return None
    login = db.scalar(select(StaffMember.login).where(StaffMember.id == staff_id)) or ""
    bindings = _count(db.execute(delete(ExternalBinding).where(ExternalBinding.staff_id == staff_id)))
    # Sent mail keeps its recipient for the mail retention; this person's goes now, bodies and all.
    mail = _count(db.execute(delete(OutgoingMail).where(OutgoingMail.staff_id == staff_id)))
    requests = _count(db.execute(
        update(RegistrationRequest).where(RegistrationRequest.staff_id == staff_id)
        .values(surname="", name="", patronymic=None, email="", position="")
    ))
    db.execute(update(ActivationLink).where(ActivationLink.staff_id == staff_id).values(email=""))
    db.execute(delete(AuditPersonalDetails).where(AuditPersonalDetails.staff_id == staff_id))
    db.execute(delete(ThrottleCounter).where(ThrottleCounter.login == login))
    discard_for_staff(db, staff_id)
    db.expire_all()
    record(
        db, AuditContext(actor=HOUSEKEEPING_ACTOR), "staff.personal_data_removed", "success",
        subject_staff_id=staff_id, login=login, bindings_removed=bindings, mail_removed=mail,
        requests_cleared=requests,
    )
    return PersonalDataRemoved(
        staff_id=staff_id, login=login, bindings_removed=bindings, mail_removed=mail, requests_cleared=requests
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
