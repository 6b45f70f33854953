"""`bridge mail`: the outbox's state, a send pass, a test message (technical support only)."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.application import outgoing_mail
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.moscow_time import moscow_datetime
from bridge.services.outbox import OutboxStatus

STATUS_TITLES = {OutboxStatus.QUEUED: "ждут отправки", OutboxStatus.SENT: "отправлено",
                 OutboxStatus.FAILED: "не удалось отправить"}


def register(commands: argparse._SubParsersAction[Any]) -> None:
    mail = commands.add_parser("mail", help="outgoing mail: state of the outbox, send, test")
    actions = mail.add_subparsers(dest="mail_command", required=True)
    status = actions.add_parser("status", help="how many messages wait, went, failed")
    status.set_defaults(handler=run_status)
    send = actions.add_parser("send", help="send what is due now (the web app does this by itself)")
    send.set_defaults(handler=run_send)
    test = actions.add_parser("test", help="queue a test message and send it now")
    test.add_argument("--to", required=True, metavar="ADDRESS")
    test.set_defaults(handler=run_test)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        state = outgoing_mail.outbox_state(database, acting_as(args), settings.mail)
    lines = [f"Почтовый сервер: {state.server or 'не настроен (BRIDGE_SMTP_HOST)'}"]
    lines += [f"{STATUS_TITLES[status]}: {count}" for status, count in state.counts.items()]
    lines += [
        f"  #{failed.id} {visible(failed.kind)} от {moscow_datetime(failed.created_at)} (МСК), "
        f"попыток {failed.attempts}: {visible(failed.last_error or '')}"
        for failed in state.failed
    ]
    data = {
        "server": state.server,
        "counts": {status.value: count for status, count in state.counts.items()},
        "failed": [{"id": failed.id, "kind": failed.kind, "created_at": failed.created_at.isoformat(),
                    "attempts": failed.attempts, "last_error": failed.last_error} for failed in state.failed],
    }
    emit(args, data, "\n".join(lines))
    return 0


def run_send(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        report = outgoing_mail.send_due_mail(database, acting_as(args), settings.mail)
    emit(
        args, {"sent": report.sent, "retried": report.retried, "failed": report.failed},
        f"Отправлено: {report.sent}, отложено до следующей попытки: {report.retried}, "
        f"не удалось отправить: {report.failed}.",
    )
    return 0 if report.retried == 0 and report.failed == 0 else 1


def run_test(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        message_id = outgoing_mail.queue_test_mail(database, acting_as(args), args.to, settings.mail)
        report = outgoing_mail.send_due_mail(database, acting_as(args), settings.mail)
    sent = report.sent > 0 and report.retried == 0 and report.failed == 0
    emit(
        args, {"mail_id": message_id, "sent": sent},
        f"Проверочное письмо отправлено на {visible(args.to)}." if sent else
        f"Письмо #{message_id} поставлено в очередь, но отправить его сейчас не удалось: "
        "подробности в `bridge mail status`.",
    )
    return 0 if sent else 1
