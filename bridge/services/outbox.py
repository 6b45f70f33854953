"""The outgoing-mail outbox: queued in the caller's transaction, claimed and settled by the dispatcher.

A claim is one conditional UPDATE (due and still queued → lease pushed forward), so two
dispatchers — two processes or two nodes — never send the same message twice in one lease.
A crash mid-send leaves the message queued; it is sent again when the lease runs out (mail is
at-least-once: a duplicate is better than a lost activation link).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from bridge.services.errors import InvalidInput
from bridge.storage.models import OutgoingMail
from bridge.storage.types import utcnow

# Set in a session's `info` when it queued mail: its commit wakes the dispatcher.
MAIL_QUEUED = "bridge.mail_queued"
# How long a claimed message is the claimer's before another dispatcher may try it.
SEND_LEASE = timedelta(minutes=2)
# Waits after the 1st, 2nd, … failure; the last one repeats.
RETRY_DELAYS = (
    timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=2),
)


class MailKind(StrEnum):
    """What a message is about; names its template (bridge/mail/templates) and stays on the row."""

    TEST = "test"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name, not a password
    BINDING_CREATED = "binding_created"
    BINDING_ALERT = "binding_alert"
    EMAIL_CHANGED = "email_changed"
    BINDING_REMOVED = "binding_removed"
    ACCOUNT_BLOCKED = "account_blocked"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    # «Заявка на подключение»: approved with an activation link, approved as a role for a person
    # already bound, rejected with the reason; a new activation link sent again.
    REQUEST_APPROVED = "request_approved"
    REQUEST_ROLE_GRANTED = "request_role_granted"
    REQUEST_REJECTED = "request_rejected"
    ACTIVATION_LINK = "activation_link"
    # «Обращение в техническую службу» closed: the outcome, to the address the person gave.
    SUPPORT_OUTCOME = "support_outcome"
    # A new request reaches those who decide it: the administrators along the issuing hierarchy
    # (a registration request), technical support (a request to add an organization to the registry).
    REQUEST_SUBMITTED = "request_submitted"
    ORGANIZATION_REQUEST_SUBMITTED = "organization_request_submitted"


@dataclass(frozen=True)
class MailContent:
    """A rendered message: subject on one line, a plain-text body and an HTML body."""

    subject: str
    text: str
    html: str


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class MailToSend:
    """A claimed message, as plain values: sending happens outside any transaction."""

    id: int
    recipient: str
    subject: str
    text: str
    html: str
    attempt: int


def queue_mail(
    db: Session, kind: MailKind, recipient: str, content: MailContent, *,
    staff_id: int | None = None, now: datetime | None = None,
) -> OutgoingMail:
    """Queue a message in the caller's transaction: it is sent only if that transaction commits."""
    address = _checked_address(recipient)
    message = OutgoingMail(
        kind=kind.value, recipient=address, subject=content.subject, text_body=content.text,
        html_body=content.html, staff_id=staff_id, status=OutboxStatus.QUEUED.value, attempts=0,
        next_attempt_at=now or utcnow(),
    )
    db.add(message)
    db.flush()
    # The runtime's after-commit hook reads this to wake the dispatcher (bridge.mail.dispatcher).
    db.info[MAIL_QUEUED] = True
    return message


def queue_mails(
    db: Session, kind: MailKind, letters: Sequence[tuple[str, MailContent, int | None]], *,
    now: datetime | None = None,
) -> int:
    """Queue many letters of one kind (recipient, content, staff id) in ONE statement, in the
    caller's transaction (a bulk import's activation links): each address judged as `queue_mail` does."""
    if not letters:
        return 0
    due = now or utcnow()
    rows = []
    for recipient, content, staff_id in letters:
        address = _checked_address(recipient)
        rows.append({
            "kind": kind.value, "recipient": address, "subject": content.subject, "text_body": content.text,
            "html_body": content.html, "staff_id": staff_id, "status": OutboxStatus.QUEUED.value, "attempts": 0,
            "next_attempt_at": due, "created_at": due,
        })
    # A Core INSERT on the table, built once: no letter is loaded as an object, nothing is flushed.
    db.connection().execute(_QUEUE, rows)
    db.info[MAIL_QUEUED] = True
    return len(rows)


_QUEUE = insert(cast(Table, OutgoingMail.__table__))


def _checked_address(recipient: str) -> str:
    address = recipient.strip()
    if not address or any(char in address for char in "\r\n<>,;") or address.count("@") != 1:
        raise InvalidInput("invalid_email", f"Адрес электронной почты «{address}» указан неверно.")
    return address


def claim_due(db: Session, *, limit: int = 20, now: datetime | None = None) -> list[MailToSend]:
    """Take up to `limit` due messages for one lease; each is taken by exactly one claimer."""
    now = now or utcnow()
    due = db.scalars(
        select(OutgoingMail.id)
        .where(OutgoingMail.status == OutboxStatus.QUEUED.value, OutgoingMail.next_attempt_at <= now)
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(limit)
    ).all()
    claimed: list[MailToSend] = []
    for message_id in due:
        taken = db.execute(
            update(OutgoingMail)
            .where(
                OutgoingMail.id == message_id,
                OutgoingMail.status == OutboxStatus.QUEUED.value,
                OutgoingMail.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + SEND_LEASE, attempts=OutgoingMail.attempts + 1)
            .returning(
                OutgoingMail.recipient, OutgoingMail.subject, OutgoingMail.text_body, OutgoingMail.html_body,
                OutgoingMail.attempts,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if taken is not None:
            claimed.append(MailToSend(message_id, taken[0], taken[1], taken[2], taken[3], taken[4]))
    return claimed


def mark_sent(db: Session, message_id: int, now: datetime | None = None) -> None:
    """Sent: the bodies (which may hold a link that signs someone in) are not kept."""
    db.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == message_id)
        .values(status=OutboxStatus.SENT.value, sent_at=now or utcnow(), text_body="", html_body="", last_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed_attempt(
    db: Session, message_id: int, attempt: int, error: str, *, max_attempts: int, now: datetime | None = None
) -> OutboxStatus:
    """Schedule the next attempt, or give the message up after `max_attempts` (bodies blanked)."""
    now = now or utcnow()
    reason = " ".join(error.split())[:300]
    if attempt >= max_attempts:
        db.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == message_id)
            .values(status=OutboxStatus.FAILED.value, last_error=reason, text_body="", html_body="")
            .execution_options(synchronize_session=False)
        )
        return OutboxStatus.FAILED
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    db.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == message_id)
        .values(next_attempt_at=now + delay, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return OutboxStatus.QUEUED


def outbox_counts(db: Session) -> dict[OutboxStatus, int]:
    """How many messages are queued, sent and failed (for operators and metrics)."""
    rows = db.execute(select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)).all()
    counts = dict.fromkeys(OutboxStatus, 0)
    for status, count in rows:
        counts[OutboxStatus(status)] = int(count)
    return counts
