"""A new request reaches those who decide it by mail: the registration request the administrators
of the issuing hierarchy, the request to add an organization technical support.

Through the public pages, with the bridge's lifespan sending over real SMTP on loopback to the
mail sink, read back through its API. A letter names the organization and what was asked and
points at «Заявки»: never the applicant's name, address or position (the page, behind the
sign-in, shows those), and nobody outside the hierarchy hears of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import Engine, select, update
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.models import AuditEvent, Organization, OutgoingMail, StaffMember
from tests.e2e.test_mail_delivery import mail_settings  # noqa: F401 - a fixture
from tests.e2e.test_registration_activation import (
    APPLICANT,
    APPLICANT_MAIL,
    SCHOOL_INN,
    file_request,
    letters_to,
    running,
)
from tests.e2e.world import BRIDGE, Keys, World, build_world, only_form
from tests.services.directory import Directory, build_directory
from tests.support.mail import MailReader

pytestmark = pytest.mark.anyio


@pytest.fixture
def world(mail_settings: Settings, engine: Engine, keys: Keys) -> World:  # noqa: F811
    return build_world(mail_settings, engine, keys)


@pytest.fixture
def directory(world: World) -> Directory:
    """The test directory, every administrator with a work e-mail `<login>@school.test`."""
    directory = build_directory(world.db)
    with world.db() as db, db.begin():
        db.execute(update(Organization).where(Organization.id == directory.orgs["school_a"]).values(inn=SCHOOL_INN))
        for login in directory.logins.values():
            db.execute(update(StaffMember).where(StaffMember.login == login).values(email=f"{login}@school.test"))
    return directory


def address_of(directory: Directory, key: str) -> str:
    return f"{directory.logins[key]}@school.test"


def everyone_mailed(mailbox: Mailbox) -> set[str]:
    reader = MailReader(TestClient(build_sink_app(mailbox)))
    listed = reader.http.get("/api/v1/messages").json()["messages"]
    return {recipient["Address"] for message in listed for recipient in message["To"]}


def submitted(world: World, event: str) -> list[AuditEvent]:
    with world.db() as db:
        found = list(db.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))
        db.expunge_all()
        return found


async def test_an_employee_request_is_mailed_to_the_schools_director_only(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox
) -> None:
    async with running(world):
        async with world.browser() as applicant:
            assert (await file_request(applicant)).status_code == 303
            # The same request again files nothing and mails nobody.
            assert (await file_request(applicant)).status_code == 303
        [letter] = await letters_to(mailbox, address_of(directory, "director_a"))
    assert letter.subject == "Новая заявка на подключение: Тестовая школа"
    assert "Здравствуйте, Админ Петровна!" in letter.text and "(время московское)" in letter.text
    assert "учётную запись: сотрудник" in letter.text
    assert f"{BRIDGE}/admin/requests" in letter.text and f'href="{BRIDGE}/admin/requests"' in letter.html
    for personal in (APPLICANT["surname"], APPLICANT_MAIL, APPLICANT["position"]):
        assert personal not in letter.text and personal not in letter.html
    # The department, support and the deputy may not issue an employee's role: they hear nothing.
    assert everyone_mailed(mailbox) == {address_of(directory, "director_a")}
    first, repeated = submitted(world, "request.submitted")
    assert first.details["mailed"] == [directory.logins["director_a"]] and repeated.details["mailed"] == []


async def test_a_head_request_goes_up_to_the_district_department(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox
) -> None:
    async with running(world):
        async with world.browser() as applicant:
            assert (await file_request(applicant, requested="head", email="head@school.test")).status_code == 303
        [letter] = await letters_to(mailbox, address_of(directory, "dept_a"))
    assert "учётную запись: руководитель" in letter.text
    assert everyone_mailed(mailbox) == {address_of(directory, "dept_a")}


async def test_the_letter_is_part_of_the_requests_transaction(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox
) -> None:
    """A request refused by the budget leaves no letter behind (queued and rolled back together)."""
    async with world.browser("203.0.113.40") as applicant:
        for number in range(6):
            await file_request(applicant, email=f"p{number}@school.test")
    with world.db() as db:
        queued = db.scalars(select(OutgoingMail.recipient).where(OutgoingMail.kind == "request_submitted")).all()
    assert queued == [address_of(directory, "director_a")] * 5


async def test_an_organization_request_is_mailed_to_technical_support(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox
) -> None:
    async with running(world):
        async with world.browser() as applicant:
            page = await applicant.get(f"{BRIDGE}/register/organization")
            form = only_form(page, "/register/organization")
            sent = await applicant.post(
                f"{BRIDGE}{form.action}",
                data={**form.fields, "name": "Гимназия имени Пушкина", "inn": "7728168971",
                      "contact_email": "head@gym.test"},
                follow_redirects=False,
            )
            assert sent.status_code == 303
        [letter] = await letters_to(mailbox, address_of(directory, "support_staff"))
    assert letter.subject == "Заявка на включение организации в реестр: ИНН 7728168971"
    assert "«Гимназия имени Пушкина»" in letter.text and "bridge org requests" in letter.text
    assert "head@gym.test" not in letter.text and "head@gym.test" not in letter.html
    assert everyone_mailed(mailbox) == {address_of(directory, "support_staff")}
    [filed] = submitted(world, "organization_request.submitted")
    assert filed.details["mailed"] == [directory.logins["support_staff"]]
