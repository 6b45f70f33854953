"""What keeps a first sign-in in the right hands: the initiating browser, single use, expiry,
the right callback, CSRF, throttling, and the binding policies."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bridge.application import notices
from bridge.config import Settings
from bridge.services.credentials import read_issued_credential
from bridge.services.throttle import ThrottlePolicy, login_throttle, reserve_attempt
from bridge.storage.models import AuditEvent, ThrottleCounter
from bridge.storage.types import utcnow
from tests.e2e.world import (
    BRIDGE,
    PASSWORD,
    Keys,
    World,
    build_world,
    choose_provider,
    enter_password,
    only_form,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.html_forms import read_forms

# Over https the flow cookie takes the __Host- prefix: Secure, Path=/, no Domain.
FLOW_COOKIE = "__Host-bridge_flow"
SMIRNOVA = "e.smirnova@school1535.ru"
SMIRNOVA_OID = "1005515483"
KUZNETSOV = "a.kuznetsov@school1535.ru"
MIKHAILOVA = "mikhailova.ap@ds45-podolsk.ru"  # a simplified (unconfirmed) Gosuslugi account
WRONG_PASSWORD = "Not-The-Password-1"

REFUSED_TITLE = "Вход не выполнен"
BINDING_EXPIRED = "Время ожидания привязки истекло или вход начат в другом браузере"
REFUSED_PASSWORD = "Неверный логин или пароль"
THROTTLED = "Слишком много неудачных попыток"

pytestmark = pytest.mark.anyio


def audit_events(world: World, event: str) -> list[dict[str, Any]]:
    """The records' details, without the request id every record of a page has (tests/observability)."""
    with world.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.event == event))
        return [{key: value for key, value in row.details.items() if key != "request_id"} for row in rows]


def assert_password_still_usable(world: World, login: str) -> None:
    staff = world.staff(login)
    assert staff.password_hash is not None and staff.credential_used_at is None


async def bind_form_post(browser: httpx.AsyncClient, login: str, password: str = PASSWORD) -> httpx.Response:
    """POST /login/bind as a browser that has a CSRF token but maybe not the pending binding."""
    first = await browser.get(f"{BRIDGE}/login/first")
    token = only_form(first, "/login/first").fields["csrf_token"]
    return await browser.post(
        f"{BRIDGE}/login/bind", data={"csrf_token": token, "login": login, "password": password, "next": ""}
    )


async def first_signin_attempt(browser: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login, password)


# --- the pending binding belongs to the browser that started it ---------------------------------


async def test_another_browser_cannot_complete_a_pending_binding(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as started, world.browser() as other:
        bind_page = await sign_in_through(started, "РСАА", KUZNETSOV)
        assert bind_page.url.path == "/login/bind"

        refused = await bind_form_post(other, login)
        assert refused.status_code == 400
        assert REFUSED_TITLE in refused.text and BINDING_EXPIRED in refused.text
        assert "bridge_sid" not in other.cookies
    assert world.bindings() == []
    assert_password_still_usable(world, login)


async def test_a_replayed_flow_cookie_binds_nothing_more(world: World) -> None:
    login = world.add_staff()
    other = world.add_staff(surname="Петров")
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        saved = browser.cookies.get(FLOW_COOKIE)
        assert saved
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"
        [binding] = world.bindings()

        # The restored cookie is only the browser's id: the pending binding it named was taken on
        # the server. The spent password is refused; another valid one finds nothing to complete.
        for replay_login, refusal in ((login, REFUSED_PASSWORD), (other, BINDING_EXPIRED)):
            browser.cookies.delete(FLOW_COOKIE)
            browser.cookies.set(FLOW_COOKIE, saved, domain="bridge.test")
            replayed = await enter_password(browser, bind_page, replay_login)
            assert replayed.status_code == 400
            assert refusal in replayed.text and "Вы вошли" not in replayed.text
    assert world.bindings() == [binding]
    # The other person's password was not spent on an identity that is already taken.
    assert_password_still_usable(world, other)


async def test_a_pending_binding_expires(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert bind_page.url.path == "/login/bind"

        later = utcnow() + world.settings.pending_binding_ttl + timedelta(seconds=1)
        monkeypatch.setattr("bridge.services.flow_state.utcnow", lambda: later)
        expired = await browser.get(f"{BRIDGE}/login/bind")
        assert REFUSED_TITLE in expired.text and BINDING_EXPIRED in expired.text
        assert "Повторить" in expired.text
        refused = await enter_password(browser, bind_page, login)
        assert BINDING_EXPIRED in refused.text
    assert world.bindings() == []
    assert_password_still_usable(world, login)


async def test_with_no_time_to_wait_the_round_trip_itself_expires(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, pending_binding_ttl=timedelta(0)), engine, keys)
    world.add_staff()
    async with world.browser() as browser:
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert page.status_code == 400 and REFUSED_TITLE in page.text
        assert "Время ожидания входа истекло" in page.text
        assert (await browser.get(f"{BRIDGE}/login/bind")).text.count(BINDING_EXPIRED) == 1
    assert world.bindings() == []
    assert audit_events(world, "binding.pending") == []


# --- callbacks ------------------------------------------------------------------------------------


async def test_a_response_at_another_providers_callback_is_refused(world: World) -> None:
    async with world.browser() as browser:
        login_page = await browser.get(f"{BRIDGE}/login")
        form = only_form(login_page, "/login/start")
        started = await browser.post(
            f"{BRIDGE}/login/start", data=form.submission("Госуслуги"), follow_redirects=False
        )
        assert started.status_code == 303
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]

        page = await browser.get(f"{BRIDGE}/login/callback/rsaa", params={"code": "x", "state": state})
        assert page.status_code == 400 and REFUSED_TITLE in page.text
        assert "не от того поставщика" in page.text
    [wrong] = audit_events(world, "upstream.wrong_callback")
    assert wrong == {"provider": "rsaa", "expected": "esia"}
    assert world.bindings() == []


async def test_a_callback_without_a_flow_is_refused_calmly(world: World) -> None:
    async with world.browser() as browser:
        page = await browser.get(f"{BRIDGE}/login/callback/rsaa", params={"code": "x", "state": "y"})
        assert page.status_code == 400 and REFUSED_TITLE in page.text
        assert "Время ожидания входа истекло или вход начат в другом браузере" in page.text
        assert "Traceback" not in page.text
    assert [event["provider"] for event in audit_events(world, "upstream.no_flow")] == ["rsaa"]


# --- the password form ----------------------------------------------------------------------------


async def test_a_password_post_without_the_csrf_token_is_refused_and_not_counted(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        await browser.get(f"{BRIDGE}/login/first")
        page = await browser.post(f"{BRIDGE}/login/first", data={"login": login, "password": WRONG_PASSWORD})
        assert page.status_code == 403 and "Форма устарела" in page.text and "Страница устарела" in page.text
    with world.db() as db:
        assert db.scalar(select(func.count()).select_from(ThrottleCounter)) == 0
    assert audit_events(world, "signin.password_refused") == []


async def test_a_login_holding_a_nul_byte_is_refused_and_counts_nothing(world: World) -> None:
    """PostgreSQL refuses a NUL byte in a query: such a login is refused at the edge
    (bridge/web/text_guard.py), before the password step. Behind it (defence in depth) the password
    step's look-up takes it as an unknown login, and the throttle counts it under a hashed key."""
    login = world.add_staff()
    async with world.browser() as browser:
        for typed in (login + "\x00", "\x00"):
            page = await first_signin_attempt(browser, typed, PASSWORD)
            assert page.status_code == 400 and "В запросе недопустимые символы" in page.text
    with world.db() as db:
        assert db.scalars(select(ThrottleCounter.key).where(ThrottleCounter.key.like("login%"))).all() == []
    for typed in (login + "\x00", "\x00"):
        with world.db() as db, db.begin():
            assert read_issued_credential(db, typed) is None
            reserve_attempt(db, typed, "203.0.113.9\x00", ThrottlePolicy())
    with world.db() as db:
        keys = db.scalars(select(ThrottleCounter.key).where(ThrottleCounter.key.like("login:%"))).all()
    assert len(keys) == 2 and all(key.startswith("login:sha256:") for key in keys)
    assert_password_still_usable(world, login)


async def test_five_wrong_passwords_throttle_that_login_only(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, address_throttle_max_failures=8), engine, keys)
    victim, neighbour, third = world.add_staff(), world.add_staff(), world.add_staff()
    async with world.browser() as browser:
        for _ in range(5):
            page = await first_signin_attempt(browser, victim, WRONG_PASSWORD)
            assert page.status_code == 400 and REFUSED_PASSWORD in page.text
        throttled = await first_signin_attempt(browser, victim, PASSWORD)
        assert throttled.status_code == 400 and THROTTLED in throttled.text
        assert throttled.url.path == "/login/first"
        # The login differing only in case and spaces is the same login.
        assert THROTTLED in (await first_signin_attempt(browser, f" {victim.upper()} ", PASSWORD)).text

        # Same address, another login: still works (5 of the address's 8 failures spent).
        assert (await first_signin_attempt(browser, neighbour, PASSWORD)).url.path == "/login/first/provider"
        for _ in range(3):
            assert REFUSED_PASSWORD in (await first_signin_attempt(browser, third, WRONG_PASSWORD)).text
        # Now the address is at its limit: even a right password for yet another login waits.
        assert THROTTLED in (await first_signin_attempt(browser, neighbour, PASSWORD)).text
    assert len(audit_events(world, "signin.throttled")) == 3
    assert_password_still_usable(world, victim)


async def test_throttling_never_locks_a_bound_person_out_of_gosuslugi(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    # Every budget at its limit for this login and this very address: the login's own from the
    # address, and the login's backoff from everywhere.
    world = build_world(replace(settings, login_backoff_after=5), engine, keys)
    login = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"
    async with world.browser() as attacker:
        for _ in range(5):
            assert REFUSED_PASSWORD in (await first_signin_attempt(attacker, login, WRONG_PASSWORD)).text
        assert THROTTLED in (await first_signin_attempt(attacker, login, WRONG_PASSWORD)).text
    with world.db() as db:
        state = login_throttle(db, login, ThrottlePolicy.of(world.settings))
    assert state is not None and state.exhausted_addresses == 1 and state.backoff_delay > timedelta(0)

    # The same address, the same person: Gosuslugi signs them in as if nothing happened.
    async with world.browser() as browser:
        account = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert account.url.path == "/account" and "Смирнова" in account.text
        assert THROTTLED in (await first_signin_attempt(browser, login, WRONG_PASSWORD)).text
    assert world.bindings() == [(login, "esia", SMIRNOVA_OID)]
    assert len(audit_events(world, "signin.success")) == 2


# --- binding policies -----------------------------------------------------------------------------


async def test_an_unconfirmed_gosuslugi_account_is_not_bound_when_confirmation_is_required(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, require_confirmed_esia_account=True), engine, keys)
    unconfirmed = world.add_staff(surname="Михайлова", name="Анна")
    confirmed = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as browser:
        choose = await first_signin_attempt(browser, unconfirmed, PASSWORD)
        page = await sign_in_at_provider(browser, await choose_provider(browser, choose, "Госуслуги"), MIKHAILOVA)
        assert page.status_code == 400 and REFUSED_TITLE in page.text and "не подтверждена" in page.text
    assert world.bindings() == []
    assert_password_still_usable(world, unconfirmed)
    assert [event["reason"] for event in audit_events(world, "binding.refused")] == ["unconfirmed_account"]

    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert (await enter_password(browser, bind_page, confirmed)).url.path == "/account"
    assert world.bindings() == [(confirmed, "esia", SMIRNOVA_OID)]


async def test_a_name_that_differs_from_the_staff_card_is_not_bound_when_names_must_match(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, require_name_match=True), engine, keys)
    login = world.add_staff(surname="Петров", name="Иван")
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        page = await enter_password(browser, bind_page, login)
        assert page.status_code == 400 and REFUSED_TITLE in page.text and "не совпадают" in page.text
    assert world.bindings() == []
    assert_password_still_usable(world, login)
    assert [event["reason"] for event in audit_events(world, "binding.refused")] == ["identity_mismatch"]


async def test_a_password_used_by_another_browser_while_this_one_binds_binds_nothing_more(
    world: World, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """One issued password, two first sign-ins: browser B proved it (local first) and is at the
    provider; browser A enters it on its binding page after repeated failures elsewhere, so A's
    transaction reads the person for the administrators' alert. B's binding commits right then.
    A's binding must find the password used (the card as the row lock finds it), not as first read."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: B cannot commit while A's transaction is open")
    a_address, b_address, guesser = "198.51.100.1", "198.51.100.2", "198.51.100.3"
    login = world.add_staff(surname="Смирнова", name="Елена")
    reached, release = threading.Event(), threading.Event()
    alert = notices.alert_administrators

    def alert_then_wait(*args: Any, **kwargs: Any) -> int:
        sent: int = alert(*args, **kwargs)
        if args[1].address == a_address:
            reached.set()
            assert release.wait(30)
        return sent

    # The module object first_signin calls it through (`notices.alert_administrators`).
    monkeypatch.setattr(notices, "alert_administrators", alert_then_wait)
    async with world.browser(b_address) as b, world.browser(a_address) as a, world.browser(guesser) as c:
        choose = await enter_password(b, await b.get(f"{BRIDGE}/login/first"), login)
        assert choose.url.path == "/login/first/provider"
        for _ in range(5):
            assert (await first_signin_attempt(c, login, WRONG_PASSWORD)).status_code == 400
        bind_page = await sign_in_through(a, "Госуслуги", SMIRNOVA)
        form = next(form for form in read_forms(bind_page.text) if "password" in form.fields)
        binding = asyncio.create_task(submit(a, bind_page, form, form.submission(login=login, password=PASSWORD)))
        while not reached.is_set():
            assert not binding.done(), binding.result().text[:300]
            await asyncio.sleep(0.02)
        await sign_in_at_provider(b, await choose_provider(b, choose, "РСАА"), KUZNETSOV, through_profile=False)
        release.set()
        assert (await binding).status_code == 400
    assert [(bound, provider) for bound, provider, _ in world.bindings()] == [(login, "rsaa")]
    assert [event["reason"] for event in audit_events(world, "binding.refused")] == ["credential_no_longer_valid"]
