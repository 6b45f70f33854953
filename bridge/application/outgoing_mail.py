"""The mail outbox for operators (`bridge mail`): its state, a test message, a send pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support
from bridge.application.unit_of_work import unit_of_work
from bridge.mail.dispatcher import DispatchReport, OutboxDispatcher
from bridge.mail.settings import MailSettings
from bridge.mail.smtp import SmtpTransport
from bridge.mail.templates import mail_templates
from bridge.services.audit import record
from bridge.services.errors import DomainError
from bridge.services.outbox import MailKind, OutboxStatus, outbox_counts, queue_mail
from bridge.storage.models import OutgoingMail

SUPPORT_ONLY = "Почтой моста занимается техническая поддержка: выполните команду без --acting-as."


@dataclass(frozen=True)
class FailedMail:
    id: int
    kind: str
    created_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxState:
    counts: dict[OutboxStatus, int]
    failed: tuple[FailedMail, ...]
    server: str | None


def outbox_state(database: sessionmaker[Session], principal: Principal, settings: MailSettings) -> OutboxState:
    """How many messages wait, went and failed; the newest failures with their reasons."""
    require_cli_support(principal, SUPPORT_ONLY)
    with database() as db:
        failed = db.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.status == OutboxStatus.FAILED.value)
            .order_by(OutgoingMail.id.desc())
            .limit(20)
        )
        return OutboxState(
            counts=outbox_counts(db),
            failed=tuple(
                FailedMail(row.id, row.kind, row.created_at, row.attempts, row.last_error) for row in failed
            ),
            server=f"{settings.host}:{settings.port} ({settings.security.value})" if settings.enabled else None,
        )


def send_due_mail(database: sessionmaker[Session], principal: Principal, settings: MailSettings) -> DispatchReport:
    """One send pass over what is due now (for cron where no web process runs, or after an outage)."""
    require_cli_support(principal, SUPPORT_ONLY)
    _require_server(settings)
    dispatcher = OutboxDispatcher(database, settings, SmtpTransport(settings).send)
    return anyio.run(dispatcher.dispatch_due)


def queue_test_mail(
    database: sessionmaker[Session], principal: Principal, recipient: str, settings: MailSettings
) -> int:
    """A test message to `recipient`, queued like any other (then `send_due_mail` sends it)."""
    require_cli_support(principal, SUPPORT_ONLY)
    _require_server(settings)
    server = f"{settings.host}:{settings.port}"
    with unit_of_work(database, audit_context_of(principal), "mail.test") as db:
        content = mail_templates().render(MailKind.TEST, {"server": server})
        message = queue_mail(db, MailKind.TEST, recipient, content)
        record(db, audit_context_of(principal), "mail.test_queued", "success", mail_id=message.id)
        return message.id


def _require_server(settings: MailSettings) -> None:
    if not settings.enabled:
        raise DomainError("mail_not_configured", "Почтовый сервер не настроен: задайте BRIDGE_SMTP_HOST.")
