"""«Проверьте данные о месте работы» after the first binding, and the notices around a binding.

Through the real pages with the mock IdP; the relying app reads the claims from the id_token and
userinfo; mail goes through real SMTP on loopback to the mail sink.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlencode

import httpx
import pytest
from aiosmtpd.controller import Controller
from mail_sink.smtp import free_port, smtp_controller
from mail_sink.store import Mailbox
from mail_sink.web import build_sink_app
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.mail.settings import MailSettings, SmtpSecurity
from bridge.services.clients import register_client
from bridge.services.roles import Role
from bridge.storage.models import AuditEvent, RoleAssignment, StaffMember
from bridge_demo.relying_app import create_relying_app
from tests.e2e.world import (
    BRIDGE,
    IDP,
    PASSWORD,
    PROFILE_PATH,
    Keys,
    World,
    build_world,
    choose_provider,
    confirm_profile,
    enter_password,
    only_form,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.factories import give_role, make_organization, make_staff
from tests.support.mail import ArrivedMail, MailReader

APP = "https://app.test"
KUZNETSOV = "a.kuznetsov@school1535.ru"
TITLE = "Проверьте данные о месте работы"
NOT_SKIPPABLE = "Пропустить нельзя: должность и рабочая почта нужны вашей организации."

pytestmark = pytest.mark.anyio


def relying_browser(world: World) -> httpx.AsyncClient:
    with world.db() as db, db.begin():
        registered = register_client(
            db, world.settings.secret_key, name="ИС Контингент", client_id="kontingent",
            redirect_uris=[f"{APP}/callback"], scope="openid profile email phone roles",
        )
    assert registered.client_secret is not None
    app = create_relying_app(
        issuer=BRIDGE, client_id="kontingent", client_secret=registered.client_secret,
        redirect_uri=f"{APP}/callback", secret_key="relying-app-test-secret",
        http=httpx.AsyncClient(transport=httpx.ASGITransport(app=world.bridge), base_url=BRIDGE),
        scope="openid profile email phone roles",
    )
    return httpx.AsyncClient(
        mounts={
            BRIDGE: httpx.ASGITransport(app=world.bridge),
            IDP: httpx.ASGITransport(app=world.mock),
            APP: httpx.ASGITransport(app=app),
        },
        follow_redirects=True,
        timeout=30,
    )


def shown_json(page: httpx.Response) -> list[dict[str, object]]:
    """The id_token claims and the userinfo answer the demo app shows, in that order."""
    blocks = [part.split("</pre>", 1)[0] for part in page.text.split("<pre>")[1:]]
    return [json.loads(html.unescape(block)) for block in blocks]


def events(world: World, name: str) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def add_staff_with_profile(world: World, *, position: str | None, email: str | None) -> str:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    with world.db() as db, db.begin():
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        staff.email = email
        for role in db.scalars(select(RoleAssignment).where(RoleAssignment.staff_id == staff.id)):
            role.position = position
    return login


async def first_binding(browser: httpx.AsyncClient, login: str) -> httpx.Response:
    bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
    return await enter_password(browser, bind_page, login, through_profile=False)


async def test_the_first_sign_in_asks_for_the_workplace_and_the_app_gets_it_as_claims(world: World) -> None:
    login = add_staff_with_profile(world, position=None, email=None)
    async with relying_browser(world) as browser:
        bridge_login = await browser.get(f"{APP}/login")
        at_provider = await choose_provider(browser, bridge_login, "РСАА")
        bind_page = await sign_in_at_provider(browser, at_provider, KUZNETSOV, through_profile=False)
        profile = await enter_password(browser, bind_page, login, through_profile=False)
        assert profile.url.path == PROFILE_PATH and TITLE in profile.text
        assert NOT_SKIPPABLE in profile.text and "Пропустить</button>" not in profile.text
        # Where the sign-in was going is the parked authorization request: a tab id, nothing else.
        form = only_form(profile, PROFILE_PATH)
        assert form.fields["next"].startswith("/oidc/authorize?tab_id=")
        assert "state=" not in str(profile.url) and "nonce" not in form.fields["next"]

        # A skip forged around the missing button is refused, and nothing is lost.
        refused = await submit(browser, profile, form, {**form.fields, "action": "skip"})
        assert refused.status_code == 400 and refused.url.path == PROFILE_PATH
        assert "Пропустить нельзя: не заполнены обязательные поля" in refused.text
        # A bad phone: a Russian message, the typed values kept.
        position_field = next(name for name in form.fields if name.startswith("position_"))
        typed = {**form.fields, position_field: "учитель математики", "email": "kuznetsov@school.test",
                 "phone": "12-34", "action": "save"}
        bad = await submit(browser, profile, form, typed)
        assert bad.status_code == 400 and "Телефон указан неверно" in bad.text and "учитель математики" in bad.text

        fixed = {**typed, "phone": "8 (495) 123-45-67, доб. 12"}
        at_app = await submit(browser, bad, only_form(bad, PROFILE_PATH), fixed)
        assert at_app.url.host == "app.test", at_app.text[:500]
    id_token, userinfo = shown_json(at_app)
    for claims in (id_token, userinfo):
        assert claims["position"] == "учитель математики"
        assert claims["email"] == "kuznetsov@school.test" and claims["email_verified"] is False
        assert claims["phone_number"] == "+74951234567;ext=12" and claims["phone_number_verified"] is False
        assert [role["position"] for role in claims["roles"]] == ["учитель математики"]  # type: ignore[attr-defined]
    [completed] = events(world, "profile.completed")
    assert completed.actor == login and sorted(completed.details["changed"]) == ["email", "phone", "position"]
    assert "kuznetsov@school.test" not in json.dumps(completed.details)


async def test_a_profile_the_administrator_filled_may_be_skipped_and_is_not_asked_again(world: World) -> None:
    login = add_staff_with_profile(world, position="директор", email="director@school.test")
    async with world.browser() as browser:
        profile = await first_binding(browser, login)
        assert profile.url.path == PROFILE_PATH
        form = only_form(profile, PROFILE_PATH)
        assert "директор" in form.fields.values() and form.fields["email"] == "director@school.test"
        account = await submit(browser, profile, form, form.submission("Пропустить"))
        assert account.url.path == "/account"
    assert len(events(world, "profile.skipped")) == 1 and events(world, "profile.completed") == []
    # A later sign-in with nothing missing goes straight on.
    async with world.browser() as later:
        assert (await sign_in_through(later, "РСАА", KUZNETSOV)).url.path == "/account"


async def test_a_later_sign_in_asks_again_while_something_required_is_missing(world: World) -> None:
    login = add_staff_with_profile(world, position=None, email="kuznetsov@school.test")
    async with world.browser() as browser:
        profile = await first_binding(browser, login)
        form = only_form(profile, PROFILE_PATH)
        # Navigating away is possible; the next sign-in brings the page back.
        assert "Пропустить</button>" not in profile.text
        assert form.fields["email"] == "kuznetsov@school.test"
    async with world.browser() as later:
        login_page = await later.get(f"{BRIDGE}/login")
        at_provider = await choose_provider(later, login_page, "РСАА")
        page = await sign_in_at_provider(later, at_provider, KUZNETSOV, through_profile=False)
        assert page.url.path == PROFILE_PATH and NOT_SKIPPABLE in page.text
        assert (await confirm_profile(later, page)).url.path == "/account"
    async with world.browser() as third:
        assert (await sign_in_through(third, "РСАА", KUZNETSOV)).url.path == "/account"


async def test_the_profile_page_is_for_a_signed_in_person_only(world: World) -> None:
    async with world.browser() as browser:
        page = await browser.get(f"{BRIDGE}{PROFILE_PATH}")
        assert page.url.path == "/login"
        posted = await browser.post(f"{BRIDGE}{PROFILE_PATH}", data={"email": "x@y.test", "action": "save"})
        assert posted.status_code == 403  # no form token: the CSRF middleware answers first
    with world.db() as db:
        assert db.scalars(select(StaffMember).where(StaffMember.email == "x@y.test")).first() is None



def authorization_url(**extra: str) -> str:
    params = {
        "response_type": "code", "client_id": "kontingent", "redirect_uri": f"{APP}/callback",
        "scope": "openid profile", "state": "app-state", "nonce": "app-nonce",
        "code_challenge": "E9Melhoe2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256", **extra,
    }
    return f"{BRIDGE}/oidc/authorize?{urlencode(params)}"


async def test_a_signed_in_person_with_missing_workplace_data_completes_it_before_the_app_gets_a_code(
    world: World,
) -> None:
    login = add_staff_with_profile(world, position=None, email="kuznetsov@school.test")
    async with relying_browser(world) as browser:
        # Signed in at the bridge, the profile page left without saving.
        assert (await first_binding(browser, login)).url.path == PROFILE_PATH

        # prompt=none may show no page: the app hears interaction_required, and no code.
        silent = await browser.get(authorization_url(prompt="none"), follow_redirects=False)
        assert silent.status_code in (302, 303)
        answer = dict(httpx.URL(silent.headers["location"]).params)
        assert answer["error"] == "interaction_required" and "code" not in answer
        assert answer["state"] == "app-state"

        # The app sends the person here: the profile page, then back to the same authorization.
        profile = await browser.get(f"{APP}/login")
        assert profile.url.path == PROFILE_PATH and TITLE in profile.text
        back_to = only_form(profile, PROFILE_PATH).fields["next"]
        assert back_to.startswith("/oidc/authorize?tab_id=")

        # Coming back without saving asks no second time: the app is told, not sent round a loop.
        unfinished = await browser.get(f"{BRIDGE}{back_to}", follow_redirects=False)
        assert dict(httpx.URL(unfinished.headers["location"]).params)["error"] == "interaction_required"

        profile = await browser.get(f"{APP}/login")
        fields = only_form(profile, PROFILE_PATH).fields
        positions = {name: "учитель информатики" for name in fields if name.startswith("position_")}
        at_app = await confirm_profile(browser, profile, **positions)
        assert at_app.url.host == "app.test", at_app.text[:500]
    id_token, _ = shown_json(at_app)
    assert id_token["position"] == "учитель информатики"
    [refusal, again] = events(world, "oidc.authorize.refused")
    assert refusal.details["error"] == again.details["error"] == "interaction_required"
    assert refusal.actor == login


async def test_saved_workplace_data_answers_the_waiting_app_at_once_and_only_once(world: World) -> None:
    """Saving the page answers the app's parked request in the page's own transaction: a 303 to the
    app with its code, no second visit to /oidc/authorize. The request is taken by one DELETE …
    RETURNING: two parallel submissions get one code between them, the other goes on to `next`,
    where the endpoint finds nothing left to resume."""
    login = add_staff_with_profile(world, position=None, email="kuznetsov@school.test")
    async with relying_browser(world) as browser:
        at_provider = await browser.get(authorization_url(idp_hint="rsaa"))
        bind_page = await sign_in_at_provider(browser, at_provider, KUZNETSOV, through_profile=False)
        profile = await enter_password(browser, bind_page, login, through_profile=False)
        form = only_form(profile, PROFILE_PATH)
        next_url = form.fields["next"]
        assert next_url.startswith("/oidc/authorize?tab_id=")
        data = {**form.fields, **{name: "учитель" for name in form.fields if name.startswith("position_")},
                "action": "save"}
        target = str(profile.url.join(form.action))
        answers = await asyncio.gather(*(browser.post(target, data=data, follow_redirects=False) for _ in range(2)))
        assert sorted(answer.status_code for answer in answers) == [303, 303]
        locations = sorted((answer.headers["location"] for answer in answers), key=lambda url: url.startswith("/"))
        assert locations[0].startswith(f"{APP}/callback?") and locations[1] == next_url, locations
        app_answer = dict(httpx.URL(locations[0]).params)
        assert app_answer["code"] and app_answer["state"] == "app-state"
        resumed = await browser.get(f"{BRIDGE}{next_url}", follow_redirects=False)
        assert resumed.status_code == 400 and "code=" not in resumed.headers.get("location", "")
    assert len(events(world, "profile.completed")) == 2


# --- notices through real SMTP -----------------------------------------------------------------


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def sink(mailbox: Mailbox) -> Iterator[int]:
    port = free_port()
    controller: Controller = smtp_controller(mailbox, port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def mailing_world(settings: Settings, engine: Engine, keys: Keys, sink: int) -> World:
    mail = MailSettings(host="127.0.0.1", port=sink, security=SmtpSecurity.NONE,
                        sender="Мост <bridge@school.test>", timeout_seconds=3.0)
    return build_world(replace(settings, mail=mail), engine, keys)


async def delivered(world: World, mailbox: Mailbox, address: str) -> list[ArrivedMail]:
    """Send what the outbox holds (the app's lifespan would) and read the sink's inbox."""
    assert world.runtime.mail is not None
    await world.runtime.mail.dispatch_due()
    return MailReader(TestClient(build_sink_app(mailbox))).to(address)


async def test_a_binding_mails_the_person(mailing_world: World, mailbox: Mailbox) -> None:
    world = mailing_world
    login = add_staff_with_profile(world, position="директор", email="director@school.test")
    async with world.browser() as browser:
        await first_binding(browser, login)
    [mail] = await delivered(world, mailbox, "director@school.test")
    assert mail.subject == "Новый способ входа: РСАА"
    assert f"к вашей учётной записи {login} привязан вход через РСАА" in mail.text
    assert "(время московское)" in mail.text and "Если это были не вы" in mail.text
    assert PASSWORD not in mail.text and PASSWORD not in mail.html


async def test_someone_elses_identity_refused_at_binding_mails_the_persons_administrators(
    mailing_world: World, mailbox: Mailbox
) -> None:
    world = mailing_world
    with world.db() as db, db.begin():
        school = make_organization(db)
        director = make_staff(db, surname="Петрова", name="Ольга", patronymic="Ивановна")
        director.email = "director@school.test"
        give_role(db, director, school, Role.SCHOOL_DIRECTOR)
        deputy = make_staff(db, surname="Сидоров", name="Павел", patronymic="Олегович", password=PASSWORD)
        give_role(db, deputy, school, Role.SCHOOL_DEPUTY)
        stranger = make_staff(db, surname="Сергеев", name="Илья", patronymic="Андреевич")
        stranger.email = "elsewhere@school.test"
        give_role(db, stranger, make_organization(db), Role.SCHOOL_DIRECTOR)
        victim = deputy.login
    # The РСАА account of Кузнецов is already bound to his own card.
    owner = add_staff_with_profile(world, position="учитель", email="kuznetsov@school.test")
    async with world.browser() as browser:
        await first_binding(browser, owner)

    # Someone holding the deputy's password tries to bind Кузнецов's РСАА account to it.
    async with world.browser() as attacker:
        choose = await enter_password(attacker, await attacker.get(f"{BRIDGE}/login/first"), victim)
        assert choose.url.path == "/login/first/provider"
        refused = await sign_in_at_provider(attacker, await choose_provider(attacker, choose, "РСАА"), KUZNETSOV)
        assert "уже привязана к другому сотруднику" in refused.text

    [alert] = await delivered(world, mailbox, "director@school.test")
    assert alert.subject == f"Подозрительная попытка входа: {victim}"
    assert "Сидоров Павел Олегович" in alert.text and f"логин {owner}" in alert.text
    assert "уже привязан к другому сотруднику" in alert.text and "Сбросить пароль" in alert.text
    # Only the deputy's administrators: nobody else, and the attacker learns nothing new.
    assert await delivered(world, mailbox, "elsewhere@school.test") == []
    [refusal] = [event for event in events(world, "binding.refused") if event.details["reason"] != "already_bound"]
    assert refusal.subject_staff_id is not None
    [audit_alert] = events(world, "security.alert")
    assert audit_alert.details["reason"] == "identity_bound_to_another"
    assert audit_alert.details["administrators"] == [director_login(world, "Петрова")]


def director_login(world: World, surname: str) -> str:
    with world.db() as db:
        return db.scalars(select(StaffMember.login).where(StaffMember.surname == surname)).one()


async def test_a_password_proved_from_a_new_address_after_failures_elsewhere_alerts(
    mailing_world: World, mailbox: Mailbox
) -> None:
    world = mailing_world
    with world.db() as db, db.begin():
        school = make_organization(db)
        director = make_staff(db, surname="Петрова", name="Ольга", patronymic="Ивановна")
        director.email = "director@school.test"
        give_role(db, director, school, Role.SCHOOL_DIRECTOR)
        deputy = make_staff(db, surname="Сидоров", name="Павел", patronymic="Олегович", password=PASSWORD)
        give_role(db, deputy, school, Role.SCHOOL_DEPUTY)
        victim = deputy.login
    first_page = f"{BRIDGE}/login/first"
    async with world.browser() as guesser:
        for attempt in range(5):
            page = await guesser.get(first_page)
            form = only_form(page, "/login/first")
            wrong = await submit(guesser, page, form, form.submission(login=victim, password=f"guess-{attempt}"))
            assert wrong.status_code == 400
    # Five failures from one address, then the right password from another.
    async with world.browser(address="198.51.100.23") as other:
        page = await other.get(first_page)
        form = only_form(page, "/login/first")
        proved = await submit(other, page, form, form.submission(login=victim, password=PASSWORD))
        assert proved.url.path == "/login/first/provider", proved.text[-1500:]
    [alert] = await delivered(world, mailbox, "director@school.test")
    assert "после 5 неудачных попыток с других адресов" in alert.text and "198.51.100.23" in alert.text
    assert [event.details["reason"] for event in events(world, "security.alert")] == ["password_after_failures"]

