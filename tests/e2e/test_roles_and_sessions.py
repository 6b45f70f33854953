"""After the provider: choosing a role, «Запомнить меня», signing out, an administrator's reset,
and what the audit log keeps of a first sign-in."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select

from bridge.services.actors import cli_support_actor
from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_recovery import reset_password
from bridge.storage.models import AuditEvent, RoleAssignment, SignInSession, StaffMember
from bridge.web.signin_cookie import COOKIE_BASE
from tests.e2e.world import (
    BRIDGE,
    PASSWORD,
    World,
    choose_provider,
    enter_password,
    only_form,
    past_profile,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.factories import give_role, make_organization, make_staff

SMIRNOVA = "e.smirnova@school1535.ru"
KUZNETSOV = "a.kuznetsov@school1535.ru"
LYCEUM = "ГБОУ Лицей № 1535"
SCHOOL_12 = "МБОУ СОШ № 12 г. Подольска"
CLOSED_SCHOOL = "МБОУ СОШ № 7 (реорганизована)"
FUTURE_SCHOOL = "МБОУ СОШ № 30 (открывается)"
ROLE_UNAVAILABLE = "Эта роль сейчас недоступна"

pytestmark = pytest.mark.anyio


def staff_with_roles(world: World) -> tuple[str, dict[str, int]]:
    """A director of one school and deputy in another; a role that ended and one not yet begun."""
    today = date.today()
    with world.db() as db, db.begin():
        staff = make_staff(db, surname="Кузнецов", name="Андрей", patronymic="Николаевич", password=PASSWORD)
        roles = {
            "director": give_role(db, staff, make_organization(db, name=LYCEUM), Role.SCHOOL_DIRECTOR),
            "deputy": give_role(db, staff, make_organization(db, name=SCHOOL_12), Role.SCHOOL_DEPUTY),
            "ended": give_role(
                db, staff, make_organization(db, name=CLOSED_SCHOOL), Role.SCHOOL_DIRECTOR,
                start=today - timedelta(days=400), end=today - timedelta(days=1),
            ),
            "future": give_role(
                db, staff, make_organization(db, name=FUTURE_SCHOOL), Role.SCHOOL_DEPUTY,
                start=today + timedelta(days=7),
            ),
        }
        return staff.login, {name: role.id for name, role in roles.items()}


async def first_sign_in(browser: httpx.AsyncClient, login: str, email: str = KUZNETSOV) -> httpx.Response:
    """External first through РСАА: the provider, then the issued password."""
    bind_page = await sign_in_through(browser, "РСАА", email)
    assert bind_page.url.path == "/login/bind", bind_page.text[:500]
    return await enter_password(browser, bind_page, login)


def session_cookie_header(page: httpx.Response) -> str:
    """The Set-Cookie header that gave this browser its sign-in session on the way to `page`."""
    headers = [
        header
        for response in [*page.history, page]
        for header in response.headers.get_list("set-cookie")
        # The world serves the bridge over https: the cookie carries the __Host- prefix.
        if header.startswith(f"__Host-{COOKIE_BASE}=")
    ]
    assert len(headers) == 1, headers
    return headers[0]


def role_choices(page: httpx.Response) -> list[tuple[str, str]]:
    """(role_id, button text) of every choice on the role page."""
    return [(button.value, button.text) for button in only_form(page, "/login/role").buttons]


# --- roles ----------------------------------------------------------------------------------------


async def test_several_active_roles_are_offered_and_the_chosen_one_is_shown(world: World) -> None:
    login, roles = staff_with_roles(world)
    async with world.browser() as browser:
        role_page = await first_sign_in(browser, login)
        assert role_page.url.path == "/login/role"
        choices = dict(role_choices(role_page))
        assert set(choices) == {str(roles["director"]), str(roles["deputy"])}
        assert choices[str(roles["director"])] == f"Директор школы · руководитель {LYCEUM}"
        assert choices[str(roles["deputy"])] == f"Завуч школы · сотрудник {SCHOOL_12}"
        assert CLOSED_SCHOOL not in role_page.text and FUTURE_SCHOOL not in role_page.text

        form = only_form(role_page, "/login/role")
        account = await submit(browser, role_page, form, form.submission("Завуч школы"))
        assert account.url.path == "/account"
        assert "Кузнецов Андрей Николаевич" in account.text
        assert "Завуч школы · сотрудник" in account.text and SCHOOL_12 in account.text
        assert LYCEUM not in account.text
    with world.db() as db:
        [session] = db.scalars(select(SignInSession)).all()
        assert session.role_assignment_id == roles["deputy"]


async def test_a_role_that_is_not_ones_own_and_active_cannot_be_chosen(world: World) -> None:
    login, roles = staff_with_roles(world)
    stranger = world.add_staff(surname="Орлова", roles=(Role.SCHOOL_DIRECTOR,))
    with world.db() as db:
        strangers_role = db.scalar(
            select(RoleAssignment.id).join(StaffMember, StaffMember.id == RoleAssignment.staff_id).where(
                StaffMember.login == stranger
            )
        )
    async with world.browser() as browser:
        role_page = await first_sign_in(browser, login)
        form = only_form(role_page, "/login/role")
        for forged in (strangers_role, roles["ended"], roles["future"], "not-a-number"):
            page = await submit(browser, role_page, form, {**form.fields, "role_id": str(forged)})
            assert page.status_code == 400 and ROLE_UNAVAILABLE in page.text
        account = await browser.get(f"{BRIDGE}/account")
        assert "Директор школы" not in account.text and "Завуч школы" not in account.text
    with world.db() as db:
        [session] = db.scalars(select(SignInSession)).all()
        assert session.role_assignment_id is None
        assert not db.scalars(select(AuditEvent).where(AuditEvent.event == "signin.role_chosen")).all()


async def test_a_single_active_role_is_chosen_silently(world: World) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", roles=(Role.SCHOOL_DIRECTOR,))
    async with world.browser() as browser:
        account = await first_sign_in(browser, login)
        assert account.url.path == "/account"
        assert [response.url.path for response in account.history if response.url.path == "/login/role"] == []
        assert "Директор школы · руководитель" in account.text
    with world.db() as db:
        [session] = db.scalars(select(SignInSession)).all()
        assert session.role_assignment_id is not None


async def test_no_active_role_is_said_on_the_role_page(world: World) -> None:
    today = date.today()
    with world.db() as db, db.begin():
        staff = make_staff(db, surname="Кузнецов", name="Андрей", password=PASSWORD)
        give_role(db, staff, make_organization(db, name=CLOSED_SCHOOL), Role.SCHOOL_DIRECTOR,
                  start=today - timedelta(days=400), end=today - timedelta(days=1))
        login = staff.login
    async with world.browser() as browser:
        page = await first_sign_in(browser, login)
        assert page.url.path == "/login/role"
        assert "нет действующих ролей" in page.text
        assert CLOSED_SCHOOL not in page.text
        assert 'name="role_id"' not in page.text


# --- the sign-in session --------------------------------------------------------------------------


async def test_remember_me_makes_the_session_cookie_persistent(world: World) -> None:
    login = world.add_staff()
    days = world.settings.remember_me_ttl.days
    async with world.browser() as browser:
        login_page = await browser.get(f"{BRIDGE}/login")
        form = only_form(login_page, "/login/start")
        assert "remember" in form.checkboxes and "remember" not in form.fields
        at_provider = await submit(browser, login_page, form, {**form.submission("РСАА"), "remember": "on"})
        bind_page = await sign_in_at_provider(browser, at_provider, KUZNETSOV)
        profile = await enter_password(browser, bind_page, login, through_profile=False)
        cookie = session_cookie_header(profile).lower()
        assert (await past_profile(browser, profile)).url.path == "/account"
        assert f"max-age={days * 24 * 3600};" in cookie
        assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie

    async with world.browser() as browser:
        account = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert account.url.path == "/account"
        cookie = session_cookie_header(account).lower()
        assert "max-age" not in cookie and "expires" not in cookie
    with world.db() as db:
        sessions = db.scalars(select(SignInSession).order_by(SignInSession.created_at)).all()
        assert [session.remember for session in sessions] == [True, False]
        remembered, plain = sessions
        assert remembered.expires_at - remembered.created_at == world.settings.remember_me_ttl
        assert plain.expires_at - plain.created_at == world.settings.session_ttl


async def test_logout_ends_the_session(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        account = await first_sign_in(browser, login)
        assert account.url.path == "/account"
        logout_form = only_form(account, "/logout")
        page = await submit(browser, account, logout_form, logout_form.fields)
        assert page.url.path == "/login"
        after = await browser.get(f"{BRIDGE}/account")
        assert after.url.path == "/login" and "Вы вошли" not in after.text
    with world.db() as db:
        [session] = db.scalars(select(SignInSession)).all()
        assert session.ended_at is not None


async def test_an_administrators_reset_unbinds_and_signs_out_and_the_new_password_binds(world: World) -> None:
    with world.db() as db, db.begin():
        staff = make_staff(db, surname="Смирнова", name="Елена", patronymic="Викторовна", password=PASSWORD)
        department = make_organization(db, name="Управление образования г. Подольска",
                                       kind=OrganizationKind.EDUCATION_DEPARTMENT)
        give_role(db, staff, department, Role.EDUCATION_DEPARTMENT)
        login = staff.login

    async with world.browser() as signed_in:
        account = await enter_password(signed_in, await sign_in_through(signed_in, "Госуслуги", SMIRNOVA), login)
        assert account.url.path == "/account"
        assert len(world.bindings()) == 1

        with world.db() as db, db.begin():
            reset = reset_password(db, cli_support_actor(), login, credential_ttl=world.settings.credential_ttl)
            new_password = reset.credential.password
            assert reset.retirement.bindings_removed == 1 and reset.retirement.sessions_ended == 1

        after = await signed_in.get(f"{BRIDGE}/account")
        assert after.url.path == "/login" and "Вы вошли" not in after.text
    assert world.bindings() == []

    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert bind_page.url.path == "/login/bind", "after a reset the next sign-in is a first sign-in"
        old = await enter_password(browser, bind_page, login, PASSWORD)
        assert old.status_code == 400 and "Неверный логин или пароль" in old.text
        account = await enter_password(browser, old, login, new_password)
        assert account.url.path == "/account" and "Смирнова" in account.text
    assert [(bound, provider) for bound, provider, _ in world.bindings()] == [(login, "esia")]


# --- the audit log --------------------------------------------------------------------------------


async def test_a_first_sign_in_is_audited_without_secrets(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        account = await enter_password(browser, bind_page, login)
        assert account.url.path == "/account"
        callback = next(response for response in bind_page.history if "/login/callback/" in response.url.path)
        code, state = callback.url.params["code"], callback.url.params["state"]
    with world.db() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        names = [event.event for event in events]
        dumped = json.dumps([event.details for event in events], ensure_ascii=False)
    for expected in ("binding.pending", "binding.created", "signin.success"):
        assert expected in names, names
    assert names.index("binding.pending") < names.index("binding.created") < names.index("signin.success")
    assert PASSWORD not in dumped and code not in dumped and state not in dumped
    assert "eyJ" not in dumped, "no JWT (id_token, access token) in the audit details"
    assert not re.search(r'"(password|code|token|access_token|id_token|refresh_token)\w*"\s*:', dumped)


async def test_local_first_remember_me_survives_the_round_trip(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        first = await browser.get(f"{BRIDGE}/login/first")
        choose = await enter_password(browser, first, login, remember="on")
        assert choose.url.path == "/login/first/provider"
        at_provider = await choose_provider(browser, choose, "РСАА")
        profile = await sign_in_at_provider(browser, at_provider, KUZNETSOV, through_profile=False)
        assert "max-age=" in session_cookie_header(profile).lower()
        assert (await past_profile(browser, profile)).url.path == "/account"
