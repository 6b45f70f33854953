"""Sign-in ceremonies live on the server: what a copied cookie, a replayed callback, a second tab,
a racing request or an administrator's reset can and cannot do, attacked through HTTP."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from bridge.services.actors import cli_support_actor
from bridge.services.roles import Role
from bridge.services.signin_recovery import reset_password
from bridge.storage.models import AuditEvent, AuthFlow
from tests.e2e.world import (
    BRIDGE,
    PASSWORD,
    World,
    choose_provider,
    enter_password,
    only_form,
    read_forms,
    sign_in_through,
    submit,
)

FLOW_COOKIE = "__Host-bridge_flow"
KUZNETSOV = "a.kuznetsov@school1535.ru"
NO_FLOW = "Время ожидания входа истекло или вход начат в другом браузере"

pytestmark = pytest.mark.anyio


async def callback_url(browser: httpx.AsyncClient, provider: str, email: str) -> str:
    """Sign in at the mock and stop at the redirect back to the bridge: the URL with code and state."""
    login_page = await browser.get(f"{BRIDGE}/login")
    at_provider = await choose_provider(browser, login_page, provider)
    persons = next(form for form in read_forms(at_provider.text) if any(b.name == "pick" for b in form.buttons))
    page = await browser.post(
        str(at_provider.url.join(persons.action)), data={**persons.fields, "pick": email}, follow_redirects=False
    )
    while page.status_code in (302, 303) and not page.headers["location"].startswith(BRIDGE):
        page = await browser.get(page.headers["location"], follow_redirects=False)
    if page.status_code == 200:  # the consent page
        consent = next(form for form in read_forms(page.text) if "consent" in form.action)
        page = await browser.post(
            str(page.url.join(consent.action)), data={**consent.fields, "decision": "allow"}, follow_redirects=False
        )
    location = page.headers["location"]
    assert location.startswith(f"{BRIDGE}/login/callback/"), location
    return location


def flow_rows(world: World) -> list[AuthFlow]:
    with world.db() as db:
        return list(db.scalars(select(AuthFlow)))


def events(world: World, name: str) -> int:
    with world.db() as db:
        return len(db.scalars(select(AuditEvent).where(AuditEvent.event == name)).all())


async def test_the_flow_cookie_carries_only_an_opaque_id_and_the_server_keeps_its_hash(world: World) -> None:
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert bind_page.url.path == "/login/bind"
        cookie = browser.cookies.get(FLOW_COOKIE)
    # 256 random bits, URL-safe base64; no signed payload, nothing of the flow in it.
    assert cookie is not None and re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
    [pending] = flow_rows(world)
    assert pending.kind == "pending_binding"
    assert cookie not in pending.browser and len(pending.browser) == 64
    # The person's data stays on the server, never in the browser.
    assert "Кузнецов" in str(pending.data)


async def test_the_cookie_is_host_only_secure_and_httponly(world: World) -> None:
    async with world.browser() as browser:
        page = await browser.get(f"{BRIDGE}/login")
        [set_cookie] = [value for value in page.headers.get_list("set-cookie") if value.startswith(FLOW_COOKIE)]
    attributes = {part.strip().lower() for part in set_cookie.split(";")}
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= attributes
    assert not any(part.startswith("domain") for part in attributes)


async def test_a_replayed_callback_is_refused_after_it_was_used(world: World) -> None:
    world.add_staff()
    async with world.browser() as browser:
        url = await callback_url(browser, "РСАА", KUZNETSOV)
        first = await browser.get(url)
        assert first.url.path == "/login/bind"
        again = await browser.get(url)
        assert again.status_code == 400 and NO_FLOW in again.text


async def test_a_copied_cookie_with_the_callback_in_another_browser_is_refused_once_used(world: World) -> None:
    world.add_staff()
    async with world.browser() as victim, world.browser() as attacker:
        url = await callback_url(victim, "РСАА", KUZNETSOV)
        assert (await victim.get(url)).url.path == "/login/bind"
        attacker.cookies.set(FLOW_COOKIE, victim.cookies[FLOW_COOKIE], domain="bridge.test")
        stolen = await attacker.get(url)
        assert stolen.status_code == 400 and NO_FLOW in stolen.text


async def test_a_callback_in_a_browser_that_did_not_start_the_flow_is_refused(world: World) -> None:
    """The code and state alone (from a log or a referrer) are worth nothing without the browser."""
    world.add_staff()
    async with world.browser() as victim, world.browser() as attacker:
        url = await callback_url(victim, "РСАА", KUZNETSOV)
        await attacker.get(f"{BRIDGE}/login")  # the attacker has a flow cookie of their own
        injected = await attacker.get(url)
        assert injected.status_code == 400 and NO_FLOW in injected.text
        # The victim's own round trip is untouched by the attempt.
        assert (await victim.get(url)).url.path == "/login/bind"


async def test_two_racing_callbacks_with_one_cookie_have_one_winner(world: World) -> None:
    world.add_staff()
    async with world.browser() as victim, world.browser() as twin:
        url = await callback_url(victim, "РСАА", KUZNETSOV)
        twin.cookies.set(FLOW_COOKIE, victim.cookies[FLOW_COOKIE], domain="bridge.test")
        pages = await asyncio.gather(*(client.get(url) for client in (victim, twin, victim, twin)))
    outcomes = sorted(page.url.path if page.status_code == 200 else "refused" for page in pages)
    assert outcomes == ["/login/bind", "refused", "refused", "refused"]
    assert events(world, "binding.pending") == 1


async def test_two_racing_password_posts_bind_once(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        form = next(form for form in read_forms(bind_page.text) if "password" in form.fields)
        data = form.submission(login=login, password=PASSWORD)
        pages = await asyncio.gather(*(submit(browser, bind_page, form, data) for _ in range(4)))
    # One binds (and goes on to check the workplace data); the others find no pending binding.
    assert sorted(page.url.path for page in pages).count("/login/profile") == 1
    assert len(world.bindings()) == 1 and events(world, "binding.created") == 1


async def test_one_identity_waiting_in_two_browsers_binds_one_of_two_people_racing(world: World) -> None:
    """One РСАА account waits for a password in two browsers (each parked it, having found nobody
    bound); two people's issued passwords arrive at once: one binding, the other refused."""
    first, second = world.add_staff(), world.add_staff()
    async with world.browser() as one, world.browser() as other:
        pages = [await sign_in_through(browser, "РСАА", KUZNETSOV) for browser in (one, other)]
        assert [page.url.path for page in pages] == ["/login/bind", "/login/bind"]
        forms = [next(form for form in read_forms(page.text) if "password" in form.fields) for page in pages]
        answers = await asyncio.gather(*(
            submit(browser, page, form, form.submission(login=login, password=PASSWORD))
            for browser, page, form, login in zip((one, other), pages, forms, (first, second), strict=True)
        ))
    assert sorted(answer.url.path for answer in answers).count("/login/profile") == 1
    [(bound, provider, _subject)] = world.bindings()
    assert provider == "rsaa" and bound in (first, second)
    assert events(world, "binding.created") == 1


async def test_a_password_reset_discards_a_local_proof_parked_before_it(world: World) -> None:
    # A department head: technical support manages that role, so the real reset use case applies.
    login = world.add_staff(roles=(Role.EDUCATION_DEPARTMENT,))
    async with world.browser() as browser:
        first = await browser.get(f"{BRIDGE}/login/first")
        choose = await enter_password(browser, first, login)
        assert choose.url.path == "/login/first/provider"
        assert [row.kind for row in flow_rows(world)] == ["local_proof"]

        with world.db() as db, db.begin():
            reset_password(db, cli_support_actor(), login, credential_ttl=world.settings.credential_ttl)
        assert flow_rows(world) == []

        # The round trip that follows has no proof to bind with: it asks for the (new) password.
        at_provider = await choose_provider(browser, choose, "РСАА")
        assert at_provider.url.host == "idp.test"
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert page.url.path == "/login/bind" and "Вы вошли" not in page.text
    assert world.bindings() == []


async def test_a_parked_step_cannot_be_taken_from_another_browser_even_with_its_state(world: World) -> None:
    async with world.browser() as browser, world.browser() as other:
        page = await browser.get(f"{BRIDGE}/login")
        started = await browser.post(
            f"{BRIDGE}/login/start", data=only_form(page, "/login/start").submission("РСАА"), follow_redirects=False
        )
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        refused = await other.get(f"{BRIDGE}/login/callback/rsaa", params={"code": "x", "state": state})
        assert refused.status_code == 400 and NO_FLOW in refused.text
    # The genuine step is still parked for the browser that started it.
    assert [row.kind for row in flow_rows(world)] == ["upstream"]


async def test_a_forged_csrf_token_is_refused_on_every_sign_in_form(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser, world.browser() as attacker:
        forged = only_form(await attacker.get(f"{BRIDGE}/login"), "/login/start").fields["csrf_token"]
        await browser.get(f"{BRIDGE}/login")
        posts = {
            "/login/start": {"provider": "rsaa"},
            "/login/first": {"login": login, "password": PASSWORD},
            "/login/bind": {"login": login, "password": PASSWORD},
            "/login/role": {"role_id": "1"},
            "/logout": {},
        }
        for path, data in posts.items():
            for token in (forged, None, ""):
                body = {**data, **({"csrf_token": token} if token is not None else {})}
                page = await browser.post(f"{BRIDGE}{path}", data=body, follow_redirects=False)
                assert page.status_code == 403 and "Страница устарела" in page.text, (path, token)
    assert flow_rows(world) == [] and world.bindings() == []


async def test_a_callback_for_a_provider_removed_since_is_refused_and_audited(world: World) -> None:
    world.add_staff()
    async with world.browser() as browser:
        url = await callback_url(browser, "РСАА", KUZNETSOV)
        # The operator removed РСАА from the providers file and restarted while the person was away.
        world.runtime.upstream.providers.pop("rsaa")
        page = await browser.get(url)
        assert page.status_code == 400 and "больше не настроен" in page.text
    assert events(world, "upstream.unknown_provider") == 1
    assert world.bindings() == [] and events(world, "binding.pending") == 0
