"""Mail leaves the running bridge through real SMTP on loopback: a reset notice reaches the person.

The web app's lifespan runs the outbox dispatcher; the reset's commit wakes it. While the mail
server is down nothing is lost: the message waits and goes once the server answers again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from aiosmtpd.controller import Controller
from mail_sink.smtp import smtp_controller
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings
from bridge.mail.settings import MailSettings, SmtpSecurity
from bridge.runtime import build_runtime
from bridge.services.outbox import OutboxStatus
from bridge.storage.database import transaction
from bridge.storage.models import OutgoingMail, StaffMember
from bridge.storage.types import utcnow
from tests.routes.test_admin import CSRF, _sign_in_as
from tests.services.directory import build_directory
from tests.support.mail import ArrivedMail, MailReader


@pytest.fixture
def mail_settings(settings: Settings, smtp_port: int) -> Settings:
    mail = MailSettings(host="127.0.0.1", port=smtp_port, security=SmtpSecurity.NONE,
                        sender="Мост <bridge@school.test>", timeout_seconds=3.0)
    return replace(settings, mail=mail)


@pytest.fixture
def mailing_client(mail_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    runtime = build_runtime(mail_settings, engine=engine)
    with TestClient(create_app(mail_settings, runtime=runtime), base_url="https://bridge.test") as client:
        yield client


def _arrived(reader: MailReader, address: str, timeout: float = 10.0) -> list[ArrivedMail]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = reader.to(address)
        if found:
            return found
        time.sleep(0.05)
    return []


def _reset_deputy_with_email(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], email: str
) -> str:
    directory = build_directory(db_factory)
    deputy = directory.logins["deputy_a"]
    with transaction(db_factory) as db:
        db.execute(update(StaffMember).where(StaffMember.login == deputy).values(email=email))
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    card = client.get(f"/admin/staff/{deputy}")
    token = CSRF.search(card.text)
    assert token is not None
    answer = client.post(f"/admin/staff/{deputy}/reset-password", data={"csrf_token": token.group(1)})
    assert answer.status_code == 200
    return deputy


def test_a_reset_mails_the_person_through_the_running_bridge(
    mailing_client: TestClient, mail_settings: Settings, db_factory: sessionmaker[Session],
    sink: Controller, mailbox: Mailbox,
) -> None:
    deputy = _reset_deputy_with_email(mailing_client, mail_settings, db_factory, "deputy@school.test")
    # Woken by the commit: well before the 30-second poll.
    [mail] = _arrived(MailReader(TestClient(build_sink_app(mailbox))), "deputy@school.test", timeout=5)
    assert mail.subject == "Пароль для входа сброшен"
    assert f"учётной записи {deputy}" in mail.text and "(время московское)" in mail.text
    # The letter never carries the new password: the administrator hands it over in person.
    assert "Новый пароль вам передаст администратор лично" in mail.text
    with db_factory() as db:
        row = db.scalars(select(OutgoingMail)).one()
        assert (row.status, row.text_body) == (OutboxStatus.SENT, "")


def test_a_mail_server_outage_blocks_no_reset_and_loses_no_notice(
    mailing_client: TestClient, mail_settings: Settings, db_factory: sessionmaker[Session],
    smtp_port: int, mailbox: Mailbox,
) -> None:
    started = time.monotonic()
    _reset_deputy_with_email(mailing_client, mail_settings, db_factory, "deputy@school.test")
    # The page answered without waiting for SMTP (nothing listens on the port).
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db_factory() as db:
            row = db.scalars(select(OutgoingMail)).one()
            if row.attempts >= 1:
                break
        time.sleep(0.05)
    assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
    assert row.text_body  # kept until it is sent

    controller = smtp_controller(mailbox, port=smtp_port)
    controller.start()
    try:
        # Its retry falls due now; a later commit of queued mail (or the poll) wakes the dispatcher.
        with transaction(db_factory) as db:
            db.execute(update(OutgoingMail).values(next_attempt_at=utcnow()))
        runtime = mailing_client.app.state.runtime  # type: ignore[attr-defined]
        runtime.mail.wake()
        assert _arrived(MailReader(TestClient(build_sink_app(mailbox))), "deputy@school.test")
    finally:
        controller.stop()
