"""A relying app's prompt=login and max_age reach the upstream provider, and the auth_time the app
receives is the moment the person authenticated there, never the time of our callback.

The apps run for real: a relying app (a catcher for its redirect URI plus a token request), the
bridge, and the mock providers, whose SSO sessions can be made an hour old by moving the mock's
session clock back while the person signs in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge.services.clients import register_client
from tests.e2e.world import (
    BRIDGE,
    IDP,
    World,
    choose_provider,
    enter_password,
    sign_in_at_provider,
    sign_in_through,
)

# The sign-in cookie over https (the tests' bridge is https://bridge.test).
COOKIE_NAME = "__Host-bridge_sid"

APP = "https://app.test"
REDIRECT_URI = f"{APP}/callback"
SMIRNOVA = "e.smirnova@school1535.ru"
KUZNETSOV = "a.kuznetsov@school1535.ru"
HOUR = 3600
LOGIN_REQUIRED = "но Госуслуги не спросили пароль ещё раз"

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Person:
    title: str
    email: str
    surname: str
    name: str


ESIA = Person("Госуслуги", SMIRNOVA, "Смирнова", "Елена")
RSAA = Person("РСАА", KUZNETSOV, "Кузнецов", "Андрей")


def payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return claims


@contextmanager
def mock_clock_back(monkeypatch: pytest.MonkeyPatch, seconds: int) -> Iterator[None]:
    """SSO sessions the mock starts meanwhile carry an auth_time `seconds` in the past."""
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr("idp_mock.store.time", type("Clock", (), {"time": staticmethod(lambda: real() - seconds)}))
        yield


class RelyingApp:
    """A registered app: builds authorization requests, catches the redirect, redeems the code."""

    def __init__(self, world: World) -> None:
        self.world = world
        with world.db() as db, db.begin():
            registered = register_client(
                db, world.settings.secret_key, name="ИС Контингент", client_id="kontingent",
                redirect_uris=[REDIRECT_URI], scope="openid profile",
            )
        assert registered.client_secret is not None
        self.secret = registered.client_secret
        self.verifiers: dict[str, str] = {}

    def catcher(self) -> Starlette:
        async def callback(request: Request) -> JSONResponse:
            return JSONResponse(dict(request.query_params))

        return Starlette(routes=[Route("/callback", callback)])

    def authorization_url(self, **extra: str) -> str:
        state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
        self.verifiers[state] = verifier
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        params = {
            "response_type": "code", "client_id": "kontingent", "redirect_uri": REDIRECT_URI, "scope": "openid profile",
            "state": state, "nonce": secrets.token_urlsafe(16), "code_challenge": challenge,
            "code_challenge_method": "S256", **extra,
        }
        return f"{BRIDGE}/oidc/authorize?{urlencode(params)}"

    async def id_token(self, at_app: httpx.Response) -> dict[str, Any]:
        assert at_app.url.host == "app.test", f"the browser did not come back to the app: {at_app.url}"
        answer = at_app.json()
        assert "code" in answer, answer
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.world.bridge), base_url=BRIDGE) as app:
            response = await app.post(
                "/oidc/token",
                data={"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": REDIRECT_URI,
                      "code_verifier": self.verifiers[answer["state"]]},
                auth=("kontingent", self.secret),
            )
        assert response.status_code == 200, response.text
        return payload(response.json()["id_token"])


def upstream_id_tokens(world: World) -> list[dict[str, Any]]:
    """Every id_token the mock hands the bridge, as the mock signed it."""
    seen: list[dict[str, Any]] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path.endswith(("/token", "/v3/te")):
            await response.aread()
            body = response.json() if response.status_code == 200 else {}
            if isinstance(body.get("id_token"), str):
                seen.append(payload(body["id_token"]))

    world.runtime.http.event_hooks["response"].append(record)
    return seen


def authorization_requests(browser: httpx.AsyncClient) -> list[httpx.URL]:
    """The authorization requests this browser takes to the providers, as sent."""
    seen: list[httpx.URL] = []

    async def record(request: httpx.Request) -> None:
        if request.url.host == "idp.test" and request.url.path.endswith(("/authorize", "/v2/ac")):
            seen.append(request.url)

    browser.event_hooks["request"].append(record)
    return seen


async def bind(world: World, browser: httpx.AsyncClient, person: Person) -> None:
    login = world.add_staff(surname=person.surname, name=person.name)
    bind_page = await sign_in_through(browser, person.title, person.email)
    assert (await enter_password(browser, bind_page, login)).url.path == "/account"


# --- auth_time ------------------------------------------------------------------------------------


@pytest.mark.parametrize("person", [pytest.param(ESIA, id="esia"), pytest.param(RSAA, id="rsaa")])
async def test_the_apps_auth_time_is_when_the_person_authenticated_upstream(
    world: World, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RelyingApp(world)
    upstream = upstream_id_tokens(world)
    async with world.browser(apps={APP: app.catcher()}) as browser:
        with mock_clock_back(monkeypatch, HOUR):
            await bind(world, browser, person)
        [signed_in_upstream] = upstream
        assert signed_in_upstream["auth_time"] < time.time() - HOUR + 60

        claims = await app.id_token(await browser.get(app.authorization_url()))
    # Not the time of our callback (an hour later), but the provider's own claim.
    assert claims["auth_time"] == signed_in_upstream["auth_time"]


# --- prompt=login and max_age ---------------------------------------------------------------------


async def test_prompt_login_makes_the_rsaa_ask_for_the_password_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RelyingApp(world)
    upstream = upstream_id_tokens(world)
    async with world.browser(apps={APP: app.catcher()}) as browser:
        with mock_clock_back(monkeypatch, HOUR):
            await bind(world, browser, RSAA)
        first = (await app.id_token(await browser.get(app.authorization_url())))["auth_time"]
        sent = authorization_requests(browser)

        login_page = await browser.get(app.authorization_url(prompt="login"))
        assert login_page.url.path == "/login" and login_page.url.params["reauth"] == "1"
        at_provider = await choose_provider(browser, login_page, "РСАА")
        assert sent[-1].params["prompt"] == "login"
        # The РСАА has a live session for this browser: only a forwarded prompt=login shows its login page.
        assert at_provider.url.host == "idp.test" and 'autocomplete="username"' in at_provider.text
        claims = await app.id_token(await sign_in_at_provider(browser, at_provider, KUZNETSOV))
    assert claims["auth_time"] == upstream[-1]["auth_time"] > first + HOUR - 60


async def test_max_age_reaches_the_rsaa_at_a_first_sign_in(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = RelyingApp(world)
    upstream = upstream_id_tokens(world)
    async with world.browser(apps={APP: app.catcher()}) as browser:
        with mock_clock_back(monkeypatch, HOUR):
            await bind(world, browser, RSAA)
        # Signed out of the bridge; the РСАА session (an hour old) lives on.
        browser.cookies.delete(COOKIE_NAME)
        sent = authorization_requests(browser)

        login_page = await browser.get(app.authorization_url(max_age="600"))
        assert login_page.url.path == "/login" and login_page.url.params["max_age"] == "600"
        at_provider = await choose_provider(browser, login_page, "РСАА")
        assert sent[-1].params["max_age"] == "600" and "prompt" not in sent[-1].params
        # Only the forwarded max_age makes the РСАА ask again rather than answer from its old session.
        assert at_provider.url.host == "idp.test" and 'autocomplete="username"' in at_provider.text
        claims = await app.id_token(await sign_in_at_provider(browser, at_provider, KUZNETSOV))
    assert claims["auth_time"] == upstream[-1]["auth_time"] >= int(time.time()) - 60


async def test_an_expired_max_age_reauthenticates_through_the_rsaa(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RelyingApp(world)
    async with world.browser(apps={APP: app.catcher()}) as browser:
        with mock_clock_back(monkeypatch, HOUR):
            await bind(world, browser, RSAA)
        sent = authorization_requests(browser)
        login_page = await browser.get(app.authorization_url(max_age="600"))
        assert login_page.url.params["reauth"] == "1" and login_page.url.params["max_age"] == "600"
        at_provider = await choose_provider(browser, login_page, "РСАА")
        assert sent[-1].params["max_age"] == "600" and sent[-1].params["prompt"] == "login"
        claims = await app.id_token(await sign_in_at_provider(browser, at_provider, KUZNETSOV))
    assert claims["auth_time"] >= int(time.time()) - 60


async def test_gosuslugi_cannot_be_made_to_ask_again_so_an_old_session_gets_login_required(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = RelyingApp(world)
    upstream = upstream_id_tokens(world)
    async with world.browser(apps={APP: app.catcher()}) as browser:
        with mock_clock_back(monkeypatch, HOUR):
            await bind(world, browser, ESIA)
        before = (await app.id_token(await browser.get(app.authorization_url())))["auth_time"]

        # ESIA has no prompt=login: it answers from its hour-old session, which we refuse.
        login_page = await browser.get(app.authorization_url(prompt="login"))
        refused = await choose_provider(browser, login_page, "Госуслуги")
        assert refused.url.host == "bridge.test" and refused.url.path == "/login/callback/esia"
        assert refused.status_code == 400 and "Вход не выполнен" in refused.text and LOGIN_REQUIRED in refused.text
        assert upstream[-1]["auth_time"] == before

        # Signed out of Gosuslugi, the person types the password again and the app gets that moment.
        assert (await browser.get(f"{IDP}/esia/idp/ext/Logout")).status_code == 200
        login_page = await browser.get(app.authorization_url(prompt="login"))
        at_provider = await choose_provider(browser, login_page, "Госуслуги")
        assert at_provider.url.host == "idp.test"
        claims = await app.id_token(await sign_in_at_provider(browser, at_provider, SMIRNOVA))
    assert claims["auth_time"] == upstream[-1]["auth_time"] > before + HOUR - 60


@pytest.mark.parametrize("value", ["²", "-1", "1e3", "9" * 12, ""])
async def test_a_malformed_max_age_at_the_sign_in_page_is_ignored(world: World, value: str) -> None:
    async with world.browser() as browser:
        sent = authorization_requests(browser)
        page = await browser.get(f"{BRIDGE}/login", params={"provider": "rsaa", "reauth": "1", "max_age": value})
        assert page.status_code == 200 and page.url.host == "idp.test"
        assert "max_age" not in sent[-1].params and sent[-1].params["prompt"] == "login"
        form_page = await browser.get(f"{BRIDGE}/login", params={"max_age": value})
        assert form_page.status_code == 200 and 'name="max_age"' not in form_page.text
