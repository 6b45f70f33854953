"""Attacks on the broker's short path: /oidc/authorize naming a configured provider goes straight
upstream, and the upstream callback answers the waiting app itself (bridge/routes/relying_app_answer.py).

The callback runs the endpoint's own decision in the sign-in's transaction, so everything the
endpoint would refuse on a second visit it must refuse here too: another browser's round trip,
a client disabled or a redirect_uri withdrawn while the person was upstream, a blocked person,
an id_token_hint naming someone else, prompt=none without a session.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.services.clients import change_redirect_uris, disable_client, register_client
from bridge.storage.enums import StaffStatus
from bridge.storage.models import AuditEvent, AuthFlow, AuthorizationCode, StaffMember
from tests.e2e.world import BRIDGE, World, answer_at_provider, enter_password, sign_in_at_provider

pytestmark = pytest.mark.anyio

APP = "https://app.test"
CLIENT_ID = "kontingent"
KUZNETSOV = "a.kuznetsov@school1535.ru"
SMIRNOVA = "e.smirnova@school1535.ru"
NO_FLOW = "Время ожидания входа истекло или вход начат в другом браузере"
SIGNIN_COOKIE = "__Host-bridge_sid"


def register_app(world: World) -> str:
    with world.db() as db, db.begin():
        registered = register_client(
            db, world.settings.secret_key, name="ИС Контингент", client_id=CLIENT_ID,
            redirect_uris=[f"{APP}/callback"], scope="openid profile email roles",
        )
    assert registered.client_secret is not None
    return registered.client_secret


def authorize_url(verifier: str = "v" * 48, **extra: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": f"{APP}/callback",
        "scope": "openid profile roles", "state": "app-state", "nonce": "app-nonce",
        "code_challenge": challenge, "code_challenge_method": "S256", "idp_hint": "rsaa", **extra,
    }
    return f"{BRIDGE}/oidc/authorize?{urlencode(query)}"


async def bound(world: World, browser: httpx.AsyncClient, email: str, provider: str = "rsaa", **person: str) -> str:
    """A staff member bound to the mock's `email` through a first sign-in the app started."""
    login = world.add_staff(**person)
    page = await browser.get(authorize_url(idp_hint=provider))
    page = await enter_password(browser, await sign_in_at_provider(browser, page, email), login)
    assert page.url.host == "app.test", f"{page.url}: {page.text[:300]}"
    forget_bridge_cookies(browser)
    return login


def forget_bridge_cookies(browser: httpx.AsyncClient) -> None:
    """A fresh browser as far as the bridge knows; still signed in at the provider."""
    for cookie in list(browser.cookies.jar):
        if cookie.domain.lstrip(".").startswith("bridge.test"):
            browser.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)


def forget_provider_cookies(browser: httpx.AsyncClient) -> None:
    for cookie in list(browser.cookies.jar):
        if cookie.domain.lstrip(".").startswith("idp.test"):
            browser.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)


async def callback_for(browser: httpx.AsyncClient, email: str, **extra: str) -> str:
    """The app's request straight upstream, the person signed in there as `email`: the callback URL
    the provider sends back (code, state), not delivered yet."""
    answer = await answer_at_provider(browser, authorize_url(**extra), email)
    return f"{BRIDGE}/login/callback/{extra.get('idp_hint', 'rsaa')}?{urlencode(answer)}"


def codes(world: World) -> int:
    with world.db() as db:
        return int(db.scalar(select(func.count()).select_from(AuthorizationCode)) or 0)


def parked_requests(world: World) -> int:
    with world.db() as db:
        return int(db.scalar(select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == "authorization")) or 0)


def refusals(world: World, error: str) -> int:
    with world.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.authorize.refused")).all()
        return sum(1 for row in rows if row.details.get("error") == error)


async def delivered(browser: httpx.AsyncClient, url: str) -> httpx.Response:
    return await browser.get(url, follow_redirects=False)


def answered_app(response: httpx.Response) -> dict[str, list[str]]:
    location = response.headers.get("location", "")
    assert response.status_code in (302, 303) and location.startswith(f"{APP}/callback"), (
        response.status_code, location, response.text[:300],
    )
    return parse_qs(urlsplit(location).query)


@pytest.mark.parametrize("provider", ["rsaa", "esia"])
async def test_an_attackers_callback_opened_in_the_victims_browser_answers_no_app(world: World, provider: str) -> None:
    """Login CSRF against the short path: the attacker starts the app's sign-in in their own
    browser, signs in upstream as themselves and lures the victim (who has an app sign-in of their
    own waiting) to the callback. The round trip is the attacker's browser's: the victim's browser
    is refused, gets no session and the app no code; the victim's waiting request is untouched."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as attacker, world.browser(apps={APP: _app()}) as victim:
        await bound(world, attacker, SMIRNOVA, provider, surname="Смирнова", name="Елена", patronymic="Викторовна")
        lure = await callback_for(attacker, SMIRNOVA, idp_hint=provider)
        issued = codes(world)

        started = await victim.get(authorize_url(idp_hint=provider), follow_redirects=False)
        assert started.headers["location"].startswith("http://idp.test/"), started.headers["location"]
        waiting = parked_requests(world)

        answer = await delivered(victim, lure)
        assert answer.status_code == 400 and NO_FLOW in answer.text
        assert not any(cookie.name == SIGNIN_COOKIE for cookie in victim.cookies.jar)
        assert codes(world) == issued and parked_requests(world) == waiting
        # In the browser that started it, the same callback answers the app (the attacker's own code).
        assert "code" in answered_app(await delivered(attacker, lure))


async def test_a_client_disabled_while_the_person_was_upstream_gets_no_code(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        with world.db() as db, db.begin():
            disable_client(db, CLIENT_ID)

        answer = await delivered(browser, callback)
    # No redirect to an app that is no longer one: the bridge says so itself.
    assert answer.status_code == 400 and "location" not in answer.headers, answer.headers
    assert codes(world) == issued
    assert refusals(world, "invalid_client") == 1


async def test_a_redirect_uri_withdrawn_while_the_person_was_upstream_receives_nothing(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        with world.db() as db, db.begin():
            change_redirect_uris(db, CLIENT_ID, ["https://app.test/elsewhere"], [])

        answer = await delivered(browser, callback)
    assert answer.status_code == 400 and "location" not in answer.headers, answer.headers
    assert codes(world) == issued


async def test_a_person_blocked_while_upstream_is_refused_and_the_app_gets_no_code(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        with world.db() as db, db.begin():
            db.execute(update(StaffMember).where(StaffMember.login == login).values(status=StaffStatus.BLOCKED))

        answer = await delivered(browser, callback)
        assert answer.status_code == 400 and "location" not in answer.headers
        assert not any(cookie.name == SIGNIN_COOKIE for cookie in browser.cookies.jar)
    assert codes(world) == issued


async def test_an_id_token_hint_for_one_person_never_gets_a_code_for_another(world: World) -> None:
    """The app asks for Kuznetsov (his id_token as the hint) straight upstream; the browser comes
    back from the provider as Smirnova: the app hears login_required, never Smirnova's code."""
    secret = register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, SMIRNOVA, surname="Смирнова", name="Елена", patronymic="Викторовна")
        forget_provider_cookies(browser)
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        hint = (await app_tokens(browser, secret))["id_token"]
        forget_bridge_cookies(browser)
        forget_provider_cookies(browser)
        issued = codes(world)

        callback = await callback_for(browser, SMIRNOVA, id_token_hint=hint)
        answer = await delivered(browser, callback)
    assert answered_app(answer)["error"] == ["login_required"]
    assert codes(world) == issued


async def test_prompt_none_without_a_session_goes_nowhere_upstream(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        answer = await browser.get(authorize_url(prompt="none"), follow_redirects=False)
    assert answered_app(answer)["error"] == ["login_required"]
    with world.db() as db:
        assert db.scalar(select(func.count()).select_from(AuthFlow)) == 0


async def test_a_code_from_the_callback_is_bound_to_its_verifier_and_redirect_uri(world: World) -> None:
    """The callback's code is the endpoint's own: PKCE and the redirect_uri hold at the token
    endpoint, and a second redemption is refused."""
    secret = register_app(world)
    verifier = secrets.token_urlsafe(48)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        answer = await delivered(browser, await callback_for(browser, KUZNETSOV, verifier=verifier))
        code = answered_app(answer)["code"][0]

        def redeem(**data: str) -> Any:
            body = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP}/callback",
                    "code_verifier": verifier, **data}
            return browser.post(f"{BRIDGE}/oidc/token", data=body, auth=(CLIENT_ID, secret))

        assert (await redeem(code_verifier="w" * 48)).json()["error"] == "invalid_grant"
        assert (await redeem(redirect_uri=f"{APP}/other")).json()["error"] in ("invalid_grant", "invalid_request")
        # The wrong tries did not spend the code (Authlib checks before the claim), the right one does once.
        first = await redeem()
        assert first.status_code == 200, first.text
        assert (await redeem()).json()["error"] == "invalid_grant"


async def app_tokens(browser: httpx.AsyncClient, secret: str) -> dict[str, Any]:
    """The app's sign-in for a browser signed in at the provider (the person bound): its tokens."""
    verifier = "t" * 48
    answer = await delivered(browser, await _callback_signed_in(browser, verifier))
    code = answered_app(answer)["code"][0]
    token = await browser.post(
        f"{BRIDGE}/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP}/callback",
              "code_verifier": verifier},
        auth=(CLIENT_ID, secret),
    )
    assert token.status_code == 200, token.text
    tokens: dict[str, Any] = token.json()
    return tokens


async def _callback_signed_in(browser: httpx.AsyncClient, verifier: str) -> str:
    step = await browser.get(authorize_url(verifier=verifier), follow_redirects=False)
    while not urlsplit(step.headers["location"]).path.startswith("/login/callback/"):
        step = await browser.get(step.url.join(step.headers["location"]), follow_redirects=False)
    return str(step.url.join(step.headers["location"]))


def _app() -> Starlette:
    """The relying app's callback: it shows the query the bridge sent back."""

    async def callback(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.url.query)

    return Starlette(routes=[Route("/callback", callback)])
