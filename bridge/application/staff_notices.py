"""Letters to the person an administrator acted on: what happened to their account, and when.

Queued in the use case's transaction (`outbox.queue_mail`), so a refused or rolled-back action
mails nothing, and sent after the commit. Nobody is mailed whose card has no e-mail address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bridge.mail.templates import mail_templates
from bridge.services.moscow_time import moscow_date, moscow_datetime
from bridge.services.outbox import MailKind, queue_mail
from bridge.services.person_names import given_names
from bridge.services.staff_cards import DEACTIVATION_REASON_TITLES, provider_title
from bridge.storage.models import StaffMember


def notify_binding_removed(db: Session, staff: StaffMember, provider: str, now: datetime) -> None:
    _mail(db, staff, MailKind.BINDING_REMOVED, now, provider=provider_title(provider))


def notify_blocked(db: Session, staff: StaffMember, reason: str, now: datetime) -> None:
    _mail(db, staff, MailKind.ACCOUNT_BLOCKED, now, reason=reason)


def notify_deactivated(db: Session, staff: StaffMember, removal_due: datetime, now: datetime) -> None:
    """Seed 003: «уведомление об отключении кабинета поступит … на почту»."""
    reason = DEACTIVATION_REASON_TITLES[staff.deactivation_reason] if staff.deactivation_reason else ""
    _mail(db, staff, MailKind.ACCOUNT_DEACTIVATED, now, reason=reason, removal_date=moscow_date(removal_due))


def _mail(db: Session, staff: StaffMember, kind: MailKind, now: datetime, **values: Any) -> None:
    if not staff.email:
        return
    content = mail_templates().render(
        kind, {"name": given_names(staff), "login": staff.login, "when": moscow_datetime(now), **values}
    )
    queue_mail(db, kind, staff.email, content, staff_id=staff.id)
