"""Attacks through HTTP on the protections that scripts/mutation_catalogue.py names.

Each test does what an attacker would — a cross-site form, a stolen or edited callback URL, a
replayed provider answer, a `next` pointing away, requests fired in parallel — and checks the
outcome a person would see (pages, redirects, who is signed in), so that deleting the check makes
it fail. They go through the real bridge and the real mock, so rewrites behind the pages keep them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from starlette.types import Message, Receive, Scope, Send

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.services.clients import register_client
from bridge.services.roles import Role
from idp_mock.app import create_app as create_mock_app
from tests.e2e.world import (
    BRIDGE,
    IDP,
    PASSWORD,
    Keys,
    World,
    choose_provider,
    enter_password,
    mock_config,
    only_form,
    sign_in_at_provider,
    sign_in_through,
    submit,
    upstream_registry,
)
from tests.support.html_forms import read_forms

pytestmark = pytest.mark.anyio

SMIRNOVA = "e.smirnova@school1535.ru"
KUZNETSOV = "a.kuznetsov@school1535.ru"
EVIL = "https://evil.example"
APP = "https://app.test"
STALE_FORM = "Страница устарела"
# Refusals are checked by the page a person sees, not by its wording (the reasons may be reworded).
REFUSED = "Вход не выполнен"
PROVIDERS = {"esia": ("Госуслуги", SMIRNOVA), "rsaa": ("РСАА", KUZNETSOV)}


def browser_with_outside(world: World) -> httpx.AsyncClient:
    """A fresh browser that can also reach a relying app and an attacker's site (both answer 200)."""
    outside = httpx.MockTransport(lambda request: httpx.Response(200, text=f"outside: {request.url.host}"))
    return httpx.AsyncClient(
        mounts={
            BRIDGE: httpx.ASGITransport(app=world.bridge, client=("203.0.113.7", 40000)),
            IDP: httpx.ASGITransport(app=world.mock),
            APP: outside, EVIL: outside, "http://evil.example": outside,
        },
        follow_redirects=True,
        timeout=30,
    )


async def signed_in(browser: httpx.AsyncClient) -> bool:
    page = await browser.get(f"{BRIDGE}/account")
    return page.url.path == "/account" and "Вы вошли" in page.text


async def bind(world: World, provider: str, login: str) -> None:
    """A first sign-in that binds `login` to the provider's test person."""
    title, email = PROVIDERS[provider]
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, title, email)
        assert (await enter_password(browser, bind_page, login)).url.path in ("/account", "/login/role")


async def callback_url(browser: httpx.AsyncClient, title: str, email: str) -> str:
    """Start a sign-in and sign in at the provider, but stop before the browser returns: the
    callback URL with its code and state, as one who steals it from a log or a referrer has it."""
    at_provider = await choose_provider(browser, await browser.get(f"{BRIDGE}/login"), title)
    persons = next(form for form in read_forms(at_provider.text) if any(b.name == "pick" for b in form.buttons))
    answer = await browser.post(
        str(at_provider.url.join(persons.action)), data={**persons.fields, "pick": email}, follow_redirects=False
    )
    consent = [form for form in read_forms(answer.text) if "consent" in form.action]
    if consent:
        answer = await browser.post(
            str(answer.url.join(consent[0].action)), data={**consent[0].fields, "decision": "allow"},
            follow_redirects=False,
        )
    assert answer.status_code in (302, 303), answer.text[:300]
    location = str(answer.url.join(answer.headers["location"]))
    assert location.startswith(f"{BRIDGE}/login/callback/"), location
    return location


FORGED_OR_MISSING = ("forged-token", None)


def with_token(fields: dict[str, str], token: str | None) -> dict[str, str]:
    """A form's fields as a cross-site page would post them: a made-up CSRF token, or none."""
    data = {name: value for name, value in fields.items() if name != "csrf_token"}
    return data if token is None else {**data, "csrf_token": token}


def with_params(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return parts._replace(query=urlencode(params)).geturl()


# --- CSRF: a form posted from another site ------------------------------------------------------------


async def test_a_cross_site_form_cannot_start_a_sign_in(world: World) -> None:
    async with world.browser() as victim:
        form = only_form(await victim.get(f"{BRIDGE}/login"), "/login/start")
        for token in FORGED_OR_MISSING:
            page = await victim.post(f"{BRIDGE}/login/start", data=with_token(form.submission("Госуслуги"), token),
                                     follow_redirects=False)
            assert page.status_code == 403 and STALE_FORM in page.text
            assert "location" not in page.headers
    async with world.browser() as fresh:  # a browser that never saw a bridge page
        page = await fresh.post(f"{BRIDGE}/login/start", data={"provider": "esia", "csrf_token": "forged"},
                                follow_redirects=False)
        assert page.status_code == 403 and "location" not in page.headers


async def test_a_cross_site_form_cannot_post_the_password_forms(world: World) -> None:
    login = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as victim:
        bind_page = await sign_in_through(victim, "Госуслуги", SMIRNOVA)
        form = next(form for form in read_forms(bind_page.text) if "password" in form.fields)
        for path in ("/login/bind", "/login/first"):
            for token in FORGED_OR_MISSING:
                data = with_token(form.submission(login=login, password=PASSWORD), token)
                page = await victim.post(f"{BRIDGE}{path}", data=data)
                assert page.status_code == 403 and STALE_FORM in page.text, path
        assert world.bindings() == []
        assert not await signed_in(victim)
        # The page's own form still works: the refusals spent nothing.
        assert (await enter_password(victim, bind_page, login)).url.path == "/account"


async def test_a_cross_site_form_cannot_choose_a_role(world: World) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", roles=(Role.SCHOOL_DIRECTOR, Role.SCHOOL_DEPUTY))
    async with world.browser() as victim:
        role_page = await enter_password(victim, await sign_in_through(victim, "РСАА", KUZNETSOV), login)
        assert role_page.url.path == "/login/role"
        form = only_form(role_page, "/login/role")
        director = form.button("Директор школы").value
        deputy = form.button("Завуч школы").value
        chosen = await submit(victim, role_page, form, {**form.fields, "role_id": director})
        assert chosen.url.path == "/account" and "Директор школы" in chosen.text
        for token in FORGED_OR_MISSING:
            page = await victim.post(f"{BRIDGE}/login/role", data=with_token({**form.fields, "role_id": deputy}, token))
            assert page.status_code == 403 and STALE_FORM in page.text
        account = await victim.get(f"{BRIDGE}/account")
        assert "Директор школы" in account.text and "Завуч школы ·" not in account.text


async def test_a_cross_site_form_cannot_sign_a_person_out(world: World) -> None:
    await bind(world, "rsaa", world.add_staff())
    async with world.browser() as victim:
        account = await sign_in_through(victim, "РСАА", KUZNETSOV)
        assert account.url.path == "/account"
        for token in FORGED_OR_MISSING:
            page = await victim.post(f"{BRIDGE}/logout", data=with_token({}, token))
            assert page.status_code == 403 and STALE_FORM in page.text
        assert await signed_in(victim)
        # The confirmation of a relying app's logout is a form too.
        for token in FORGED_OR_MISSING:
            page = await victim.post(f"{BRIDGE}/oidc/logout", data=with_token({}, token))
            assert page.status_code == 403 and STALE_FORM in page.text
        assert await signed_in(victim)


# --- the upstream answer belongs to the flow that asked for it ------------------------------------


@pytest.mark.parametrize("provider", ["esia", "rsaa"])
async def test_a_stolen_code_redeemed_in_the_attackers_browser_signs_nobody_in(world: World, provider: str) -> None:
    """Code injection: the attacker starts a flow of their own and feeds it the victim's code."""
    title, email = PROVIDERS[provider]
    await bind(world, provider, world.add_staff())
    async with world.browser() as victim, world.browser() as attacker:
        stolen = await callback_url(victim, title, email)
        own = await callback_url(attacker, title, KUZNETSOV if provider == "esia" else SMIRNOVA)
        injected = with_params(own, code=dict(parse_qsl(urlsplit(stolen).query))["code"])
        page = await attacker.get(injected)
        assert page.status_code >= 400 and REFUSED in page.text
        assert not await signed_in(attacker)


@pytest.mark.parametrize("provider", ["esia", "rsaa"])
@pytest.mark.parametrize("state", ["wrong", "missing", "empty"])
async def test_a_callback_with_a_wrong_or_missing_state_is_refused(world: World, provider: str, state: str) -> None:
    title, email = PROVIDERS[provider]
    await bind(world, provider, world.add_staff())
    async with world.browser() as browser:
        url = await callback_url(browser, title, email)
        edited = with_params(url, state={"wrong": str(uuid.uuid4()), "missing": None, "empty": ""}[state])
        page = await browser.get(edited)
        assert page.status_code >= 400 and REFUSED in page.text
        assert not await signed_in(browser)


@pytest.mark.parametrize("provider", ["esia", "rsaa"])
async def test_a_callback_naming_another_issuer_is_refused(world: World, provider: str) -> None:
    """RFC 9207 mix-up defence: `iss` in the answer, when sent, must be the provider's."""
    title, email = PROVIDERS[provider]
    await bind(world, provider, world.add_staff())
    async with world.browser() as browser:
        page = await browser.get(with_params(await callback_url(browser, title, email), iss=f"{EVIL}/"))
        assert page.status_code >= 400 and REFUSED in page.text
        assert not await signed_in(browser)
    async with world.browser() as browser:
        issuer = _issuer(world, provider)
        page = await browser.get(with_params(await callback_url(browser, title, email), iss=issuer))
        assert page.url.path == "/account", "the provider's own iss is accepted"


def _issuer(world: World, provider: str) -> str:
    upstream = world.runtime.upstream.get(provider)
    assert upstream is not None
    return upstream.issuer


class TamperedProvider:
    """The mock behind a man in the middle that, once armed, rewrites the JSON answers of one path."""

    def __init__(self, app: Any, path: str, tamper: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.app, self.path, self.tamper = app, path, tamper
        self.armed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.armed or scope["type"] != "http" or not scope["path"].startswith(self.path):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start, body = messages[0], b"".join(m.get("body", b"") for m in messages[1:])
        if start["status"] == 200:
            body = json.dumps(self.tamper(json.loads(body))).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def world_behind(settings: Settings, engine: Engine, keys: Keys, path: str,
                 tamper: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[World, TamperedProvider]:
    """Like build_world, but the bridge reaches the providers through a middle, armed later."""
    config = mock_config(keys)
    mock = create_mock_app(config)
    middle = TamperedProvider(mock, path, tamper)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=middle), timeout=5)
    runtime = build_runtime(settings, engine=engine, http=http, upstream=upstream_registry(keys, config))
    return World(settings, runtime.db, runtime, create_app(settings, runtime=runtime), mock), middle


async def test_an_esia_token_answer_that_does_not_echo_our_state_is_refused(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    """ESIA echoes the state of the token request: an answer for another request is not ours."""
    world, middle = world_behind(settings, engine, keys, "/esia/aas/oauth2/v3/te",
                                 lambda token: {**token, "state": str(uuid.uuid4())})
    await bind(world, "esia", world.add_staff())
    middle.armed = True
    async with world.browser() as browser:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert page.status_code >= 400 and REFUSED in page.text
        assert not await signed_in(browser)


async def test_esia_person_data_of_another_oid_is_refused(settings: Settings, engine: Engine, keys: Keys) -> None:
    """Names and СНИЛС must be those of the person the id_token names, or nothing is bound."""
    world, middle = world_behind(
        settings, engine, keys, "/esia/rs/prns/",
        lambda person: {**person, "oid": "1000000001", "lastName": "Подменный", "snils": "112-233-445 95"},
    )
    middle.armed = True
    world.add_staff()
    async with world.browser() as browser:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert page.status_code >= 400 and REFUSED in page.text
        assert (await browser.get(f"{BRIDGE}/login/bind")).status_code == 400, "no pending binding either"
    assert world.bindings() == []


async def test_a_discovery_document_naming_another_issuer_is_refused(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    """Mix-up: endpoints read from a document that speaks for another issuer are never used."""
    world, middle = world_behind(settings, engine, keys, "/rsaa/.well-known/openid-configuration",
                                 lambda metadata: {**metadata, "issuer": f"{EVIL}/rsaa"})
    middle.armed = True
    async with world.browser() as browser:
        page = await choose_provider(browser, await browser.get(f"{BRIDGE}/login"), "РСАА")
        assert page.url.host == "bridge.test" and page.status_code >= 400 and REFUSED in page.text


async def test_a_replayed_rsaa_token_answer_is_refused_by_its_nonce(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    """The id_token of an earlier sign-in, replayed into a new one, carries the earlier nonce."""
    recorded: list[dict[str, Any]] = []

    def replay_the_first(token: dict[str, Any]) -> dict[str, Any]:
        recorded.append(token)
        return recorded[0]

    world, middle = world_behind(settings, engine, keys, "/rsaa/token", replay_the_first)
    middle.armed = True
    await bind(world, "rsaa", world.add_staff())
    async with world.browser() as browser:
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert len(recorded) == 2
        assert page.status_code >= 400 and REFUSED in page.text
        assert not await signed_in(browser)


async def test_a_finished_round_trip_cannot_be_resumed_from_the_browsers_history(world: World) -> None:
    """Going back to the provider's authorization URL brings a new code for the old state: refused."""
    await bind(world, "rsaa", world.add_staff())
    async with world.browser() as browser:
        login_page = await browser.get(f"{BRIDGE}/login")
        form = only_form(login_page, "/login/start")
        started = await browser.post(f"{BRIDGE}/login/start", data=form.submission("РСАА"), follow_redirects=False)
        authorization_url = started.headers["location"]
        account = await sign_in_at_provider(browser, await browser.get(authorization_url), KUZNETSOV)
        assert account.url.path == "/account"

        # The provider remembers the person, so it answers at once with a fresh code for the old state.
        again = await browser.get(authorization_url)
        assert again.url.path == "/login/callback/rsaa"
        assert again.status_code >= 400 and REFUSED in again.text


# --- where the browser goes after signing in ------------------------------------------------------

OFF_SITE_NEXTS = ["//evil.example/x", "/\\evil.example/x", "\\\\evil.example", "https://evil.example/x",
                  "http:evil.example", "/\\/evil.example", " //evil.example", "evil.example"]


def off_site_redirects(page: httpx.Response) -> list[str]:
    """Redirect targets that leave the bridge and the provider, read as a browser reads them."""
    away = []
    for response in [*page.history, page]:
        location = response.headers.get("location")
        if location is None:
            continue
        # Browsers treat "\" as "/" in http(s) URLs: "/\evil" is "//evil".
        target = response.url.join(location.strip().replace("\\", "/"))
        if target.host not in ("bridge.test", "idp.test"):
            away.append(str(target))
    return away


@pytest.mark.parametrize("next_url", OFF_SITE_NEXTS)
async def test_next_never_sends_a_signed_in_person_to_another_site(world: World, next_url: str) -> None:
    await bind(world, "rsaa", world.add_staff(roles=(Role.SCHOOL_DIRECTOR, Role.SCHOOL_DEPUTY)))
    async with browser_with_outside(world) as browser:
        # Through the provider: /login?next=… → provider → role choice → where `next` says.
        role_page = await sign_in_through(browser, "РСАА", KUZNETSOV, next_url=next_url)
        assert role_page.url.path == "/login/role"
        form = only_form(role_page, "/login/role")
        done = await submit(browser, role_page, form, form.submission(form.buttons[0].text))
        # Not only kept on the site: such a `next` is dropped for the account page.
        assert off_site_redirects(done) == [] and done.url.path == "/account"
        # Already signed in: /login?next=… and /login/role?next=… redirect at once.
        for path in ("/login", "/login/role"):
            page = await browser.get(f"{BRIDGE}{path}", params={"next": next_url})
            if page.url.path == "/login/role":
                form = only_form(page, "/login/role")
                page = await submit(browser, page, form, form.submission(form.buttons[0].text))
            assert off_site_redirects(page) == [] and page.url.path == "/account", path


@pytest.mark.parametrize("next_url", OFF_SITE_NEXTS[:4])
async def test_next_never_leaves_the_site_in_a_local_first_sign_in(world: World, next_url: str) -> None:
    login = world.add_staff()
    async with browser_with_outside(world) as browser:
        first = await browser.get(f"{BRIDGE}/login/first", params={"next": next_url})
        choose = await enter_password(browser, first, login)
        at_provider = await choose_provider(browser, choose, "РСАА")
        done = await sign_in_at_provider(browser, at_provider, KUZNETSOV)
        assert off_site_redirects(done) == [] and done.url.path == "/account"


# --- single use under truly parallel requests -------------------------------------------------------


async def _relying_app(world: World, client_id: str = "kontingent") -> tuple[str, str]:
    with world.db() as db, db.begin():
        registered = register_client(
            db, world.settings.secret_key, name=f"ИС {client_id}", client_id=client_id,
            redirect_uris=[f"{APP}/{client_id}/callback"], scope="openid profile email roles",
        )
    assert registered.client_secret is not None
    return client_id, registered.client_secret


async def _authorization_code(browser: httpx.AsyncClient, client_id: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    at_app = await browser.get(f"{BRIDGE}/oidc/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": f"{APP}/{client_id}/callback",
        "scope": "openid",
        "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert at_app.url.host == "app.test", at_app.url
    return dict(parse_qsl(at_app.url.query.decode()))["code"], verifier


async def _in_parallel(world: World, forms: list[dict[str, str]], auth: tuple[str, str]) -> list[httpx.Response]:
    """Token requests fired together, each on its own connection; the bridge runs them in threads."""
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=world.bridge), base_url=BRIDGE) for _ in forms]
    try:
        return list(await asyncio.gather(*(
            client.post("/oidc/token", data=form, auth=auth) for client, form in zip(clients, forms, strict=True)
        )))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def test_a_code_leaked_to_another_app_is_refused_even_with_its_verifier(world: World) -> None:
    """The other app started the request itself (its own PKCE pair) with our client_id; the code
    came back to our redirect URI and leaked (a referrer, a log). Only the code's client may use it."""
    ours, _ = await _relying_app(world, "kontingent")
    theirs, their_secret = await _relying_app(world, "other-app")
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        code, verifier = await _authorization_code(browser, ours)
    [answer] = await _in_parallel(world, [{
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": f"{APP}/{ours}/callback",
    }], (theirs, their_secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def _tokens(world: World, browser: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, Any]:
    code, verifier = await _authorization_code(browser, client_id)
    [answer] = await _in_parallel(world, [{
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": f"{APP}/{client_id}/callback",
    }], (client_id, secret))
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def _refresh(world: World, token: str, client_id: str, secret: str) -> httpx.Response:
    [answer] = await _in_parallel(world, [{"grant_type": "refresh_token", "refresh_token": token}],
                                  (client_id, secret))
    return answer


async def test_a_refresh_token_leaked_to_another_app_is_refused(world: World) -> None:
    ours, our_secret = await _relying_app(world, "kontingent")
    theirs, their_secret = await _relying_app(world, "other-app")
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        tokens = await _tokens(world, browser, ours, our_secret)
    answer = await _refresh(world, tokens["refresh_token"], theirs, their_secret)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert (await _refresh(world, tokens["refresh_token"], ours, our_secret)).status_code == 200


async def test_after_a_reused_refresh_token_the_newest_one_is_dead_too(world: World) -> None:
    """A stolen refresh token used after its owner rotated it: the whole family is revoked."""
    client_id, secret = await _relying_app(world)
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        first = (await _tokens(world, browser, client_id, secret))["refresh_token"]
    rotated = await _refresh(world, first, client_id, secret)
    assert rotated.status_code == 200
    assert (await _refresh(world, first, client_id, secret)).status_code == 400
    newest = await _refresh(world, rotated.json()["refresh_token"], client_id, secret)
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"


PARALLEL = 8
ROUNDS = 3


async def test_a_code_redeemed_in_parallel_gives_tokens_once(world: World) -> None:
    client_id, secret = await _relying_app(world)
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        for _ in range(ROUNDS):
            code, verifier = await _authorization_code(browser, client_id)
            form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                    "redirect_uri": f"{APP}/{client_id}/callback"}
            answers = await _in_parallel(world, [form] * PARALLEL, (client_id, secret))
            assert sorted(answer.status_code for answer in answers) == [200] + [400] * (PARALLEL - 1)


async def test_a_code_redeemed_in_parallel_with_near_misses_gives_tokens_once(world: World) -> None:
    """Right redemptions raced by ones with a wrong verifier or redirect_uri (a thief's tries):
    only a right one may win, once; the wrong ones never claim the code in between."""
    client_id, secret = await _relying_app(world)
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        code, verifier = await _authorization_code(browser, client_id)
    right = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
             "redirect_uri": f"{APP}/{client_id}/callback"}
    wrong = [{**right, "code_verifier": verifier[::-1]}, {**right, "redirect_uri": f"{APP}/{client_id}/callback/"}]
    answers = await _in_parallel(world, [*wrong * 3, *[right] * 6], (client_id, secret))
    assert all(answer.status_code in (200, 400) for answer in answers)
    winners = [index for index, answer in enumerate(answers) if answer.status_code == 200]
    assert len(winners) == 1 and winners[0] >= 6, [answer.text for answer in answers]


async def test_a_refresh_token_rotated_in_parallel_gives_one_new_token(world: World) -> None:
    client_id, secret = await _relying_app(world)
    await bind(world, "rsaa", world.add_staff())
    async with browser_with_outside(world) as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
        for _ in range(ROUNDS):
            tokens = await _tokens(world, browser, client_id, secret)
            form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            answers = await _in_parallel(world, [form] * PARALLEL, (client_id, secret))
            assert sorted(answer.status_code for answer in answers) == [200] + [400] * (PARALLEL - 1)
