"""`bridge mail`: an operator checks the mail server, sees what waits or failed, and sends it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aiosmtpd.controller import Controller
from mail_sink.smtp import free_port
from mail_sink.store import Mailbox
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.storage.models import AuditEvent, OutgoingMail
from tests.services.directory import build_directory

Cli = Callable[..., tuple[int, str, str]]


def _smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("BRIDGE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BRIDGE_SMTP_PORT", str(port))
    monkeypatch.setenv("BRIDGE_SMTP_SECURITY", "none")


def test_a_test_message_goes_out_and_is_audited(
    bridge_cli: Cli, monkeypatch: pytest.MonkeyPatch, sink: Controller, mailbox: Mailbox,
    db_factory: sessionmaker[Session],
) -> None:
    _smtp(monkeypatch, sink.port)
    code, out, _ = bridge_cli("mail", "test", "--to", "ops@school.test")
    assert code == 0, out
    assert "Проверочное письмо отправлено на ops@school.test" in out
    [mail] = mailbox.newest_first("ops@school.test")
    assert mail.subject == "Проверка почты моста идентификации"
    with db_factory() as db:
        assert "mail.test_queued" in db.scalars(select(AuditEvent.event)).all()
    code, out, _ = bridge_cli("--json", "mail", "status")
    assert json.loads(out)["counts"] == {"queued": 0, "sent": 1, "failed": 0}


def test_an_unreachable_server_is_reported_and_the_message_waits_for_send(
    bridge_cli: Cli, monkeypatch: pytest.MonkeyPatch, mailbox: Mailbox, db_factory: sessionmaker[Session],
) -> None:
    port = free_port()
    _smtp(monkeypatch, port)
    code, out, _ = bridge_cli("mail", "test", "--to", "ops@school.test")
    assert code == 1
    assert "не удалось" in out and "bridge mail status" in out
    code, out, _ = bridge_cli("mail", "status")
    assert "ждут отправки: 1" in out and f"127.0.0.1:{port}" in out
    with db_factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert row.last_error and row.attempts == 1


def test_mail_commands_are_support_only_and_need_a_server(
    bridge_cli: Cli, monkeypatch: pytest.MonkeyPatch, db_factory: sessionmaker[Session],
) -> None:
    directory = build_directory(db_factory)
    code, _, err = bridge_cli("--acting-as", directory.logins["dept_a"], "mail", "status")
    assert code != 0 and "техническая поддержка" in err
    code, _, err = bridge_cli("mail", "test", "--to", "ops@school.test")
    assert code != 0 and "BRIDGE_SMTP_HOST" in err
    monkeypatch.setenv("BRIDGE_SMTP_SECURITY", "ssl3")
    code, _, err = bridge_cli("mail", "status")
    assert code != 0 and "BRIDGE_SMTP_SECURITY" in err and "Traceback" not in err
