"""«Заявка на подключение» → approval → a mailed activation link → Госуслуги → bound, through the pages.

The real bridge runs with its lifespan (the outbox dispatcher included) and sends through real SMTP
on loopback to the mail sink; the applicant reads the link out of the letter that arrived and
follows it in a browser; the mock ESIA answers. Also: a rejection's letter, a replayed, expired or
foreign link, a name that does not match, parallel uses of one link, the public form's budget,
an answer that never tells who exists, and an access log without the token.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import Engine, select, update
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.registration_requests import ADDRESS_BUDGET
from bridge.storage.models import ActivationLink, AuditEvent, Organization, OutgoingMail, StaffMember
from bridge.storage.types import utcnow
from tests.e2e.test_mail_delivery import mail_settings  # noqa: F401 - a fixture
from tests.e2e.world import BRIDGE, Keys, World, answer_at_provider, build_world, only_form, sign_in_at_provider
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser
from tests.support.html_forms import read_forms
from tests.support.mail import ArrivedMail, MailReader

pytestmark = pytest.mark.anyio

# The applicant is the mock's Кузнецов Андрей Николаевич; Смирнова is somebody else.
KUZNETSOV = "a.kuznetsov@school1535.ru"
SMIRNOVA = "e.smirnova@school1535.ru"
APPLICANT_MAIL = "kuznetsov@school.test"
SCHOOL_INN = "7707083893"
LINK = re.compile(r"https://bridge\.test/activate\?token=[A-Za-z0-9_\-]+")
APPLICANT = {"surname": "Кузнецов", "name": "Андрей", "patronymic": "Николаевич", "position": "Учитель физики",
             "email": APPLICANT_MAIL, "requested": "employee"}


@pytest.fixture
def world(mail_settings: Settings, engine: Engine, keys: Keys) -> World:  # noqa: F811
    return build_world(mail_settings, engine, keys)


@pytest.fixture
def directory(world: World) -> Directory:
    directory = build_directory(world.db)
    with world.db() as db, db.begin():
        db.execute(update(Organization).where(Organization.id == directory.orgs["school_a"]).values(inn=SCHOOL_INN))
    return directory


@asynccontextmanager
async def running(world: World) -> AsyncIterator[None]:
    """The bridge as it serves: its lifespan runs the outbox dispatcher, woken by each commit."""
    async with world.bridge.router.lifespan_context(world.bridge):
        yield


async def letters_to(mailbox: Mailbox, address: str, count: int = 1, timeout: float = 10.0) -> list[ArrivedMail]:
    reader = MailReader(TestClient(build_sink_app(mailbox)))
    deadline = anyio.current_time() + timeout
    while anyio.current_time() < deadline:
        arrived = reader.to(address)
        if len(arrived) >= count:
            return arrived
        await anyio.sleep(0.05)
    raise AssertionError(f"{count} letter(s) to {address} did not arrive")


def administrator(world: World, directory: Directory, key: str = "director_a") -> httpx.AsyncClient:
    """A browser in which the administrator is signed in, acting in their role."""
    browser = world.browser("198.51.100.20")
    with world.db() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == directory.logins[key])).one()
        role = staff.roles[0]
        db.expunge_all()
    sign_in_browser(browser, world.settings, world.db, staff.id, role)  # type: ignore[arg-type]
    return browser


async def file_request(browser: httpx.AsyncClient, **changes: str) -> httpx.Response:
    """Search the registry by ИНН, pick the school, fill the request in, send it."""
    found = await browser.get(f"{BRIDGE}/register", params={"q": SCHOOL_INN})
    assert found.status_code == 200 and "Тестовая школа" in found.text
    [pick] = re.findall(r'href="(/register\?organization=\d+)"', found.text)
    form_page = await browser.get(f"{BRIDGE}{pick}")
    form = only_form(form_page, "/register")
    return await browser.post(f"{BRIDGE}{form.action}", data={**form.fields, **APPLICANT, **changes},
                              follow_redirects=False)


async def approve_first(admin: httpx.AsyncClient, role: str = "social_pedagogue") -> httpx.Response:
    page = await admin.get(f"{BRIDGE}/admin/requests")
    assert page.status_code == 200, page.text[:300]
    form = only_form(page, "/approve")
    return await admin.post(f"{BRIDGE}{form.action}", data={**form.fields, "role": role})


async def approved_link(world: World, directory: Directory, mailbox: Mailbox) -> str:
    async with world.browser() as applicant:
        assert (await file_request(applicant)).status_code == 303
    async with administrator(world, directory) as admin:
        approved = await approve_first(admin)
        assert approved.status_code == 200 and "одобрена" in approved.text
        # The administrator's pages never carry the link.
        assert "token=" not in approved.text
    [letter] = await letters_to(mailbox, APPLICANT_MAIL)
    links = LINK.findall(letter.text)
    assert links, letter.text
    return links[0]


async def follow_link(
    browser: httpx.AsyncClient, link: str, person: str, provider: str = "Госуслуги"
) -> httpx.Response:
    page = await browser.get(link)
    assert page.status_code == 200, page.text[:500]
    form = only_form(page, "/activate")
    at_provider = await browser.post(f"{BRIDGE}{form.action}", data=form.submission(provider))
    return await sign_in_at_provider(browser, at_provider, person)


def link_rows(world: World) -> list[ActivationLink]:
    with world.db() as db:
        rows = list(db.scalars(select(ActivationLink).order_by(ActivationLink.id)))
        db.expunge_all()
        return rows


def events(world: World, prefix: str) -> list[AuditEvent]:
    with world.db() as db:
        found = list(db.scalars(select(AuditEvent).where(AuditEvent.event.startswith(prefix)).order_by(AuditEvent.id)))
        db.expunge_all()
        return found


def bound_logins(world: World) -> list[str]:
    return [login for login, _, _ in world.bindings()]


# --- the whole way ---------------------------------------------------------------------------------


async def test_request_approval_mail_link_gosuslugi_bound_and_signed_in(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(world):
        async with world.browser() as applicant:
            sent = await file_request(applicant)
            assert sent.status_code == 303
            done = await applicant.get(f"{BRIDGE}{sent.headers['location']}")
            assert "Заявка отправлена" in done.text
        async with administrator(world, directory) as admin:
            staff_list = await admin.get(f"{BRIDGE}/admin/staff")
            assert 'href="/admin/requests"' in staff_list.text
            listed = await admin.get(f"{BRIDGE}/admin/requests")
            assert "Кузнецов Андрей Николаевич" in listed.text and APPLICANT_MAIL in listed.text
            approved = await approve_first(admin)
            assert approved.url.path == "/admin/requests" and "одобрена" in approved.text
            # Approved, not yet activated: offered a new link, not listed as waiting any more.
            assert "Выслать ссылку повторно" in approved.text and "Одобрить и отправить" not in approved.text

        [letter] = await letters_to(mailbox, APPLICANT_MAIL)
        assert letter.subject == "Заявка на подключение одобрена"
        assert "Социальный педагог" in letter.text and "Тестовая школа" in letter.text
        [link] = LINK.findall(letter.text)
        token = link.split("token=", 1)[1]
        assert len(token) >= 43  # 256 bits
        [row] = link_rows(world)
        assert token not in (row.token_hash, row.email) and row.expires_at - row.created_at == timedelta(hours=72)

        with caplog.at_level(logging.INFO, logger="bridge.access"):
            async with world.browser() as applicant:
                # Opening the link (as a mail scanner would) spends nothing.
                assert (await applicant.get(link)).status_code == 200
                assert link_rows(world)[0].used_at is None
                account = await follow_link(applicant, link, KUZNETSOV)
                assert account.url.path == "/account" and "Вы вошли" in account.text
                assert "Кузнецов Андрей" in account.text
        access_lines = [record.getMessage() for record in caplog.records if record.name == "bridge.access"]
        assert any("/activate?token=…" in line for line in access_lines)
        assert not any(token in line for line in access_lines)

    [login] = bound_logins(world)
    person = world.staff(login)
    assert person.password_hash is None and person.email == APPLICANT_MAIL
    assert link_rows(world)[0].used_at is not None
    assert [event.details["flow"] for event in events(world, "binding.created")] == ["activation_link"]
    [started] = events(world, "activation.started")
    assert started.subject_staff_id == person.id
    # The public request was audited without personal data.
    [submitted] = events(world, "request.submitted")
    assert submitted.actor == "anonymous" and not {"surname", "name", "email"} & set(submitted.details)
    assert APPLICANT_MAIL not in str(submitted.details) and "Кузнецов" not in str(submitted.details)


async def test_a_rejection_reaches_the_person_with_its_reason(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    async with running(world):
        async with world.browser() as applicant:
            assert (await file_request(applicant)).status_code == 303
        async with administrator(world, directory) as admin:
            listed = await admin.get(f"{BRIDGE}/admin/requests")
            [confirm] = re.findall(r'href="(/admin/requests/\d+/reject)"', listed.text)
            page = await admin.get(f"{BRIDGE}{confirm}")
            assert "Отклонить заявку" in page.text and "Кузнецов" in page.text
            form = only_form(page, "/reject")
            empty = await admin.post(f"{BRIDGE}{form.action}", data={**form.fields, "reason": "  "})
            assert empty.status_code == 400 and "Укажите причину" in empty.text
            reason = "В нашей школе нет такого сотрудника"
            done = await admin.post(f"{BRIDGE}{form.action}", data={**form.fields, "reason": reason})
            assert done.url.path == "/admin/requests" and "отклонена" in done.text
            # A refresh of the result repeats nothing; the request is gone from the list.
            assert "Новых заявок нет" in (await admin.get(done.url)).text
        [letter] = await letters_to(mailbox, APPLICANT_MAIL)
        assert letter.subject == "Заявка на подключение отклонена" and reason in letter.text
        assert not LINK.search(letter.text)
    with world.db() as db:
        assert db.scalars(select(StaffMember).where(StaffMember.email == APPLICANT_MAIL)).all() == []


# --- links that must bind nothing ----------------------------------------------------------------


async def test_a_used_link_binds_nothing_again_in_any_browser(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    async with running(world):
        link = await approved_link(world, directory, mailbox)
        async with world.browser() as applicant:
            assert (await follow_link(applicant, link, KUZNETSOV)).url.path == "/account"
            replay = await applicant.get(link)
            assert replay.status_code == 410 and "Ссылка уже использована" in replay.text
        async with world.browser("192.0.2.50") as thief:
            page = await thief.get(link)
            assert page.status_code == 410 and not [f for f in read_forms(page.text) if "/activate" in f.action]
            # Posting the token straight away is refused the same way, and nothing is parked.
            token = link.split("token=", 1)[1]
            any_form = await thief.get(f"{BRIDGE}/register/organization")
            csrf_token = only_form(any_form, "/register/organization").fields["csrf_token"]
            posted = await thief.post(
                f"{BRIDGE}/activate", data={"csrf_token": csrf_token, "token": token, "provider": "esia"},
                follow_redirects=False,
            )
            assert posted.status_code == 410 and "Ссылка уже использована" in posted.text
    assert len(world.bindings()) == 1
    assert [event.details["reason"] for event in events(world, "activation.refused")] == ["used"]


async def test_an_expired_link_says_to_ask_for_a_new_one_and_a_new_one_works(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    async with running(world):
        link = await approved_link(world, directory, mailbox)
        with world.db() as db, db.begin():
            db.execute(update(ActivationLink).values(expires_at=utcnow() - timedelta(minutes=1)))
        async with world.browser() as applicant:
            page = await applicant.get(link)
            assert page.status_code == 410 and "Срок действия ссылки истёк" in page.text
        async with administrator(world, directory) as admin:
            listed = await admin.get(f"{BRIDGE}/admin/requests")
            resend = only_form(listed, "/activation-link")
            resent = await admin.post(f"{BRIDGE}{resend.action}", data=resend.fields)
            assert resent.url.path == "/admin/requests" and "Новая ссылка для входа отправлена" in resent.text
        letters = await letters_to(mailbox, APPLICANT_MAIL, count=2)
        newest = next(letter for letter in letters if letter.subject == "Новая ссылка для входа")
        [fresh] = LINK.findall(newest.text)
        assert fresh != link
        async with world.browser() as applicant:
            assert (await follow_link(applicant, fresh, KUZNETSOV)).url.path == "/account"
    assert len(world.bindings()) == 1


async def test_another_persons_gosuslugi_is_refused_and_the_link_still_works_for_the_right_one(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    async with running(world):
        link = await approved_link(world, directory, mailbox)
        async with world.browser() as someone:
            refused = await follow_link(someone, link, SMIRNOVA)
            assert refused.status_code == 400 and "не совпадают с данными заявки" in refused.text
        assert world.bindings() == [] and link_rows(world)[0].used_at is None
        [refusal] = events(world, "binding.refused")
        assert (refusal.details["reason"], refusal.details["via"]) == ("identity_mismatch", "activation_link")
        async with world.browser() as applicant:
            assert (await follow_link(applicant, link, KUZNETSOV)).url.path == "/account"
    assert len(world.bindings()) == 1


async def test_parallel_uses_of_one_link_bind_exactly_once(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    async with running(world):
        link = await approved_link(world, directory, mailbox)
        browsers = [world.browser(f"203.0.113.{10 + number}") for number in range(3)]
        answers = []
        for browser in browsers:
            page = await browser.get(link)
            form = only_form(page, "/activate")
            started = await browser.post(f"{BRIDGE}{form.action}", data=form.submission("Госуслуги"),
                                         follow_redirects=False)
            assert started.status_code == 303
            answers.append(await answer_at_provider(browser, started.headers["location"], KUZNETSOV))
        results = await asyncio.gather(*(
            browser.get(f"{BRIDGE}/login/callback/esia", params=answer)
            for browser, answer in zip(browsers, answers, strict=True)
        ))
        for browser in browsers:
            await browser.aclose()
    # The one that bound goes on to check the workplace data (a first sign-in), the others are refused.
    assert sorted(result.url.path for result in results).count("/login/profile") == 1
    assert sum(result.status_code == 400 for result in results) == 2
    assert len(world.bindings()) == 1


async def test_the_links_starts_are_counted_then_it_is_revoked(
    world: World, directory: Directory, sink: Any, mailbox: Mailbox,
) -> None:
    from bridge.services.activation_links import ACTIVATION_STARTS

    async with running(world):
        link = await approved_link(world, directory, mailbox)
        async with world.browser() as applicant:
            page = await applicant.get(link)
            form = only_form(page, "/activate")
            for _ in range(ACTIVATION_STARTS):
                started = await applicant.post(f"{BRIDGE}{form.action}", data=form.submission("Госуслуги"),
                                               follow_redirects=False)
                assert started.status_code == 303
            spent = await applicant.post(f"{BRIDGE}{form.action}", data=form.submission("Госуслуги"),
                                         follow_redirects=False)
            assert spent.status_code == 410 and "слишком много попыток" in spent.text
            assert (await applicant.get(link)).status_code == 410
    assert link_rows(world)[0].revoked_at is not None


# --- the public form ---------------------------------------------------------------------------


async def test_the_answer_never_tells_whether_a_person_or_an_address_exists(world: World, directory: Directory) -> None:
    with world.db() as db, db.begin():
        known = db.scalars(select(StaffMember).where(StaffMember.login == directory.logins["deputy_a"])).one()
        known.email = "known@school.test"
    answers = []
    async with world.browser() as applicant:
        for changes in (
            {"email": "new@school.test"},  # new
            {"email": "new@school.test"},  # the same again
            {"email": "known@school.test"},  # a staff member's address
            {"surname": "Админов4", "name": "Админ", "patronymic": "Петровна"},  # an existing person
        ):
            sent = await file_request(applicant, **changes)
            page = await applicant.get(f"{BRIDGE}{sent.headers['location']}")
            answers.append((sent.status_code, sent.headers["location"], page.status_code, page.text))
    assert len(set(answers)) == 1 and answers[0][:3] == (303, "/register/sent", 200)
    # Nothing is mailed on a request: the form cannot be used to send letters to strangers.
    with world.db() as db:
        assert db.scalars(select(OutgoingMail)).all() == []


async def test_one_address_files_a_bounded_number_of_requests(world: World, directory: Directory) -> None:
    async with world.browser("203.0.113.99") as sprayer:
        for number in range(ADDRESS_BUDGET):
            assert (await file_request(sprayer, email=f"p{number}@school.test")).status_code == 303
        refused = await file_request(sprayer, email="late@school.test")
        assert refused.status_code == 429 and "Слишком много заявок" in refused.text
        # What was typed is kept on the form.
        assert "late@school.test" in refused.text
    async with world.browser("198.51.100.77") as neighbour:
        assert (await file_request(neighbour, email="other@school.test")).status_code == 303
    [throttled] = events(world, "request.throttled")
    assert throttled.outcome == "refused" and throttled.address == "203.0.113.99"


async def test_an_organization_out_of_the_registry_is_requested_for_support(
    world: World, directory: Directory, bridge_cli: Any,
) -> None:
    async with world.browser() as applicant:
        nothing = await applicant.get(f"{BRIDGE}/register", params={"q": "Гимназия имени Пушкина"})
        assert "не нашлось" in nothing.text
        [ask] = re.findall(r'href="(/register/organization[^"]*)"', nothing.text)
        page = await applicant.get(f"{BRIDGE}{ask.replace('&amp;', '&')}")
        form = only_form(page, "/register/organization")
        assert form.fields["name"] == "Гимназия имени Пушкина"
        wrong = await applicant.post(f"{BRIDGE}{form.action}",
                                     data={**form.fields, "inn": "1234567890", "contact_email": "head@gym.test"})
        assert wrong.status_code == 400 and "ИНН указан неверно" in wrong.text
        sent = await applicant.post(f"{BRIDGE}{form.action}",
                                    data={**form.fields, "inn": "7728168971", "contact_email": "head@gym.test"},
                                    follow_redirects=False)
        assert sent.status_code == 303
        assert "Заявка отправлена" in (await applicant.get(f"{BRIDGE}{sent.headers['location']}")).text
    import json

    code, out, _ = bridge_cli("--json", "orgs", "requests")
    assert code == 0
    [request] = json.loads(out)["organization_requests"]
    assert (request["name"], request["inn"], request["contact_email"]) == (
        "Гимназия имени Пушкина", "7728168971", "head@gym.test"
    )
    code, _, err = bridge_cli("--acting-as", directory.logins["director_a"], "org", "requests")
    assert code == 1 and "техническая поддержка" in err
    assert bridge_cli("org", "close-request", str(request["id"]), "--note", "добавлена №42")[0] == 0
    assert json.loads(bridge_cli("--json", "org", "requests")[1])["organization_requests"] == []
