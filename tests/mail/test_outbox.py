"""Mail goes out through real SMTP on loopback, after commit, and survives a mail server outage."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import anyio
import pytest
from aiosmtpd.controller import Controller
from mail_sink.smtp import free_port, smtp_controller
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.mail.dispatcher import DispatchReport, OutboxDispatcher
from bridge.mail.settings import MailSettings, MailSettingsError, SmtpSecurity
from bridge.mail.smtp import SmtpTransport
from bridge.mail.templates import MailTemplates
from bridge.services.errors import InvalidInput
from bridge.services.outbox import MailKind, OutboxStatus, claim_due, outbox_counts, queue_mail
from bridge.storage.database import transaction
from bridge.storage.models import OutgoingMail
from bridge.storage.types import utcnow
from tests.support.mail import MailReader


@pytest.fixture
def sink_page(mailbox: Mailbox) -> TestClient:
    return TestClient(build_sink_app(mailbox))


@pytest.fixture
def inbox(sink_page: TestClient) -> MailReader:
    """The sink's JSON API (Mailpit's shape), as a tester's script reads it."""
    return MailReader(sink_page)


def _settings(port: int, **overrides: object) -> MailSettings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "security": SmtpSecurity.NONE,
                                 "sender": "Мост <bridge@school.test>", "timeout_seconds": 3.0}
    values.update(overrides)
    return MailSettings(**values)  # type: ignore[arg-type]


def _dispatcher(db_factory: sessionmaker[Session], settings: MailSettings) -> OutboxDispatcher:
    return OutboxDispatcher(db_factory, settings, SmtpTransport(settings).send)


def _queue_reset_notice(db: Session, recipient: str = "ivanova@school.test") -> OutgoingMail:
    content = MailTemplates().render(
        MailKind.PASSWORD_RESET, {"name": "Анна Петровна", "login": "ivanova", "when": "1 декабря 2026, 10:00"}
    )
    return queue_mail(db, MailKind.PASSWORD_RESET, recipient, content, staff_id=7)


def _dispatch(dispatcher: OutboxDispatcher) -> DispatchReport:
    return anyio.run(dispatcher.dispatch_due)


def test_a_committed_message_arrives_over_smtp_with_text_and_html(
    db_factory: sessionmaker[Session], sink: Controller, inbox: MailReader, sink_page: TestClient
) -> None:
    with transaction(db_factory) as db:
        _queue_reset_notice(db)
    report = _dispatch(_dispatcher(db_factory, _settings(sink.port)))
    assert report == DispatchReport(sent=1)

    [mail] = inbox.to("ivanova@school.test")
    assert mail.subject == "Пароль для входа сброшен"
    assert "администратор сбросил пароль вашей учётной записи ivanova" in mail.text
    assert "<b>ivanova</b>" in mail.html
    assert mail.sender == "bridge@school.test"
    # Sent: the row remembers that, not what the message said.
    with db_factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert (row.status, row.text_body, row.html_body, row.attempts) == (OutboxStatus.SENT, "", "", 1)
        assert row.sent_at is not None
    # The inbox page a tester opens shows it too.
    assert "Пароль для входа сброшен" in sink_page.get("/").text


def test_a_rolled_back_change_sends_nothing(
    db_factory: sessionmaker[Session], sink: Controller, inbox: MailReader
) -> None:
    with pytest.raises(RuntimeError), transaction(db_factory) as db:
        _queue_reset_notice(db)
        raise RuntimeError("the use case failed after queueing")
    assert _dispatch(_dispatcher(db_factory, _settings(sink.port))) == DispatchReport()
    assert inbox.count() == 0


def test_a_mail_server_outage_loses_nothing_and_the_message_goes_once_it_is_back(
    db_factory: sessionmaker[Session], mailbox: Mailbox, inbox: MailReader, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    with transaction(db_factory) as db:
        _queue_reset_notice(db)
    dispatcher = _dispatcher(db_factory, _settings(port))
    with caplog.at_level(logging.WARNING, logger="bridge.mail"):
        assert _dispatch(dispatcher) == DispatchReport(retried=1)
    # Nobody's address or message in the log line.
    assert "ivanova" not in caplog.text and "пароль" not in caplog.text.lower()
    with db_factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert row.status == OutboxStatus.QUEUED and row.attempts == 1
        assert row.next_attempt_at > utcnow() + timedelta(seconds=20)
        assert row.last_error and "Connect" in row.last_error
    # Not due yet: a second pass does not hammer the server.
    assert _dispatch(dispatcher) == DispatchReport()

    controller = smtp_controller(mailbox, port=port)
    controller.start()
    try:
        with transaction(db_factory) as db:
            db.execute(update(OutgoingMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert _dispatch(dispatcher) == DispatchReport(sent=1)
    finally:
        controller.stop()
    assert inbox.count() == 1
    with db_factory() as db:
        assert outbox_counts(db)[OutboxStatus.SENT] == 1


def test_a_message_is_given_up_after_the_last_attempt_and_its_body_dropped(
    db_factory: sessionmaker[Session],
) -> None:
    with transaction(db_factory) as db:
        _queue_reset_notice(db)
    dispatcher = _dispatcher(db_factory, _settings(free_port(), max_attempts=2))
    assert _dispatch(dispatcher) == DispatchReport(retried=1)
    with transaction(db_factory) as db:
        db.execute(update(OutgoingMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert _dispatch(dispatcher) == DispatchReport(failed=1)
    with db_factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert (row.status, row.attempts, row.text_body, row.html_body) == (OutboxStatus.FAILED, 2, "", "")
        assert outbox_counts(db)[OutboxStatus.FAILED] == 1


def test_two_dispatchers_claiming_at_once_take_each_message_once(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        for index in range(30):
            _queue_reset_notice(db, f"person{index}@school.test")
    claimed: list[list[int]] = [[], [], [], []]
    barrier = threading.Barrier(len(claimed))

    def claim(slot: int) -> None:
        barrier.wait(timeout=10)
        with transaction(db_factory) as db:
            claimed[slot] = [mail.id for mail in claim_due(db, limit=30)]

    threads = [threading.Thread(target=claim, args=(slot,)) for slot in range(len(claimed))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [message_id for batch in claimed for message_id in batch]
    assert sorted(everything) == sorted(set(everything))
    assert len(everything) == 30


def test_an_address_that_could_inject_headers_is_refused(db_factory: sessionmaker[Session]) -> None:
    with db_factory() as db:
        for address in ("a@b.test\r\nBcc: all@b.test", "a@b.test, c@d.test", "not-an-address", ""):
            with pytest.raises(InvalidInput):
                _queue_reset_notice(db, address)


def test_mail_settings_are_read_once_and_refused_with_one_line() -> None:
    settings = MailSettings.from_environ({"BRIDGE_SMTP_HOST": "smtp.school.test", "BRIDGE_SMTP_SECURITY": "tls",
                                          "BRIDGE_SMTP_USER": "bridge", "BRIDGE_SMTP_PASSWORD": "s3cret"})
    assert (settings.enabled, settings.port, settings.security) == (True, 465, SmtpSecurity.TLS)
    assert "s3cret" not in repr(settings)
    assert not MailSettings.from_environ({}).enabled
    with pytest.raises(MailSettingsError, match="BRIDGE_SMTP_SECURITY"):
        MailSettings.from_environ({"BRIDGE_SMTP_SECURITY": "ssl3"})
    with pytest.raises(MailSettingsError, match="BRIDGE_SMTP_PORT"):
        MailSettings.from_environ({"BRIDGE_SMTP_PORT": "smtp"})
    with pytest.raises(MailSettingsError, match="BRIDGE_SMTP_USER"):
        MailSettings.from_environ({"BRIDGE_SMTP_USER": "bridge"})


@pytest.mark.anyio
async def test_a_commit_during_a_dispatcher_pass_is_sent_at_once_not_at_the_next_poll(
    db_factory: sessionmaker[Session], sink: Controller, mailbox: Mailbox, smtp_port: int
) -> None:
    # The interleaving that lost the wake-up: the pass has claimed (nothing due yet), then a commit
    # queues a letter and wakes the dispatcher, then the pass ends. The letter must not wait for the
    # poll (an hour here).
    dispatcher = _dispatcher(db_factory, _settings(smtp_port, poll_interval=timedelta(hours=1)))
    dispatcher.wake_after_commit(db_factory)
    passes = 0
    dispatch_due = dispatcher.dispatch_due

    async def pass_with_a_commit_after_its_claim(*, limit: int = 20) -> DispatchReport:
        nonlocal passes
        passes += 1
        report = await dispatch_due(limit=limit)
        if passes == 1:
            await anyio.to_thread.run_sync(lambda: _commit_a_notice(db_factory))
            await anyio.sleep(0.05)  # the wake-up (call_soon_threadsafe) lands while this pass is running
        return report

    dispatcher.dispatch_due = pass_with_a_commit_after_its_claim  # type: ignore[method-assign]
    async with anyio.create_task_group() as running:
        running.start_soon(dispatcher.run)
        with anyio.fail_after(10):
            while not mailbox.newest_first():
                await anyio.sleep(0.05)
        running.cancel_scope.cancel()
    assert passes >= 2


def _commit_a_notice(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        _queue_reset_notice(db)
