"""The person hears of what an administrator did to their account: real SMTP on loopback, read back.

A binding removed, the account blocked (with the reason), the cabinet switched off (seed 003:
«уведомление об отключении кабинета поступит … на почту»), each through the running bridge's
pages, each arriving in the mail sink.
"""

from __future__ import annotations

import time

from aiosmtpd.controller import Controller
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.moscow_time import moscow_date
from bridge.storage.database import transaction
from bridge.storage.models import ExternalBinding, StaffMember
from bridge.storage.types import utcnow
from tests.e2e.test_mail_delivery import (  # noqa: F401 - the fixtures (mailbox, sink: tests/conftest.py)
    _arrived,
    mail_settings,
    mailing_client,
)
from tests.routes.test_admin import CSRF, _sign_in_as
from tests.services.directory import build_directory
from tests.support.mail import ArrivedMail, MailReader

ADDRESS = "director@school.test"


def test_unbind_block_and_deactivation_are_mailed_to_the_person(
    mailing_client: TestClient, mail_settings: Settings, db_factory: sessionmaker[Session],  # noqa: F811
    sink: Controller, mailbox: Mailbox,
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    with transaction(db_factory) as db:
        db.execute(update(StaffMember).where(StaffMember.login == director).values(email=ADDRESS))
        staff_id = db.scalars(select(StaffMember.id).where(StaffMember.login == director)).one()
        db.add(ExternalBinding(staff_id=staff_id, provider="esia", issuer="https://esia.test", subject="1",
                               flow="local_first"))
    _sign_in_as(mailing_client, mail_settings, db_factory, directory.logins["dept_a"])
    token = CSRF.search(mailing_client.get(f"/admin/staff/{director}").text)
    assert token is not None
    reader = MailReader(TestClient(build_sink_app(mailbox)))

    def press(path: str, **data: str) -> None:
        answer = mailing_client.post(f"/admin/staff/{director}/{path}", data={"csrf_token": token.group(1), **data},
                                     follow_redirects=False)
        assert answer.status_code == 303, answer.text

    press("bindings/esia/unbind")
    [unbound] = _arrived(reader, ADDRESS, timeout=5)
    assert unbound.subject == "Учётная запись отвязана: Госуслуги (ЕСИА)"
    assert f"учётной записи {director}" in unbound.text and "(время московское)" in unbound.text

    press("block", reason="Служебная проверка до 1 сентября")
    arrived = _wait_for(reader, 2)
    blocked = next(mail for mail in arrived if mail.subject == "Учётная запись заблокирована")
    assert "Причина: Служебная проверка до 1 сентября" in blocked.text
    assert "Причина: Служебная проверка до 1 сентября" in blocked.html

    press("deactivate", reason="left")
    arrived = _wait_for(reader, 3)
    deactivated = next(mail for mail in arrived if mail.subject == "Личный кабинет отключён")
    assert "сотрудник уволился" in deactivated.text
    removal = moscow_date(utcnow() + mail_settings.housekeeping.deactivated_retention)
    assert f"будут удалены из моста\n{removal}." in deactivated.text
    assert deactivated.recipients == (ADDRESS,)


def _wait_for(reader: MailReader, count: int) -> list[ArrivedMail]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = reader.to(ADDRESS)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} letters, got {len(reader.to(ADDRESS))}")
