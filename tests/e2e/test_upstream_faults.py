"""Every failure the mock providers can stage: a calm page, an audit record, and nothing bound.

Each fault is met in the local-first order: the password is already proved, so an identity the
bridge wrongly accepted would be bound at once — "no binding" is the real check here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.storage.models import AuditEvent
from bridge.web.signin_cookie import COOKIE_BASE
from idp_mock.app import create_app as create_mock_app
from tests.e2e.world import (
    BRIDGE,
    Keys,
    World,
    build_world,
    choose_provider,
    enter_password,
    mock_config,
    past_profile,
    sign_in_at_provider,
    sign_in_through,
    upstream_registry,
)

SMIRNOVA = "e.smirnova@school1535.ru"
SMIRNOVA_OID = "1005515483"
KUZNETSOV = "a.kuznetsov@school1535.ru"

REFUSED_TITLE = "Вход не выполнен"
# «Госуслуги» is plural, «РСАА» does not decline: each provider's message says it its own way.
DENIED = {"esia": "Вы отказались предоставить данные из Госуслуг", "rsaa": "Вы отказались предоставить данные из РСАА"}
UNAVAILABLE = {"esia": "Госуслуги сейчас не отвечают или отвечают с ошибкой",
               "rsaa": "РСАА сейчас не отвечает или отвечает с ошибкой"}
REJECTED = {"esia": "Ответ Госуслуг не прошёл проверку безопасности",
            "rsaa": "Ответ РСАА не прошёл проверку безопасности"}

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Provider:
    key: str
    title: str
    email: str


ESIA = Provider("esia", "Госуслуги", SMIRNOVA)
RSAA = Provider("rsaa", "РСАА", KUZNETSOV)

# What the person must read for each fault, and the reason the audit record names.
FAULTS: dict[str, tuple[dict[str, str], str]] = {
    "consent_refused": (DENIED, "access_denied"),
    "token_500": (UNAVAILABLE, "upstream_unavailable"),
    "token_malformed_json": (UNAVAILABLE, "upstream_unavailable"),
    "id_token_expired": (REJECTED, "upstream_rejected"),
    "id_token_not_yet_valid": (REJECTED, "upstream_rejected"),
    "id_token_wrong_aud": (REJECTED, "upstream_rejected"),
    "id_token_wrong_iss": (REJECTED, "upstream_rejected"),
    "id_token_bad_signature": (REJECTED, "upstream_rejected"),
    "id_token_alg_none": (REJECTED, "upstream_rejected"),
    # The nonce is the flow's: absent or another flow's is refused for both providers.
    "id_token_nonce_missing": (REJECTED, "upstream_rejected"),
    "id_token_nonce_other": (REJECTED, "upstream_rejected"),
    "userinfo_wrong_sub": (REJECTED, "upstream_rejected"),
    # ESIA publishes no keys: a token signed with a key we do not ship cannot be checked.
    "key_rotated": (REJECTED, "upstream_rejected"),
}

# ESIA's person data carries no oid, so another person's data under the token's oid cannot be
# told apart from the person's own (see test_esia_person_data_of_someone_else below); a rotated
# РСАА key is a legitimate rotation (see test_rsaa_key_rotation_is_followed).
CASES = [
    pytest.param(provider, fault, id=f"{provider.key}-{fault}")
    for provider in (ESIA, RSAA)
    for fault in FAULTS
    if (provider.key, fault) not in {("esia", "userinfo_wrong_sub"), ("rsaa", "key_rotated")}
]


def upstream_failures(world: World) -> list[dict[str, Any]]:
    with world.db() as db:
        return [
            event.details
            for event in db.scalars(select(AuditEvent).where(AuditEvent.event == "upstream.failed"))
        ]


async def prove_password(browser: httpx.AsyncClient, login: str) -> httpx.Response:
    """Local first: the issued password is accepted and the provider buttons are shown."""
    choose = await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login)
    assert choose.url.path == "/login/first/provider", choose.text[:500]
    return choose


def assert_calm_refusal(page: httpx.Response, message: str) -> None:
    assert page.url.host == "bridge.test" and page.url.path.startswith("/login/callback/")
    assert page.status_code in (400, 502)
    assert REFUSED_TITLE in page.text and message in page.text
    assert "Traceback" not in page.text and "Exception" not in page.text and "Error" not in page.text
    assert ("/login", "Повторить") in _links(page.text)
    assert not any(COOKIE_BASE in response.headers.get("set-cookie", "") for response in [*page.history, page])


def assert_password_still_usable(world: World, login: str) -> None:
    staff = world.staff(login)
    assert staff.password_hash is not None and staff.credential_used_at is None


@pytest.mark.parametrize(("provider", "fault"), CASES)
async def test_upstream_fault_shows_a_calm_page_and_binds_nothing(
    world: World, provider: Provider, fault: str
) -> None:
    messages, reason = FAULTS[fault]
    message = messages[provider.key]
    login = world.add_staff()
    await world.fault(provider.key, fault)
    async with world.browser() as browser:
        choose = await prove_password(browser, login)
        at_provider = await choose_provider(browser, choose, provider.title)
        page = await sign_in_at_provider(browser, at_provider, provider.email)

        # The message names the provider in its own grammatical form (see FAULTS).
        assert_calm_refusal(page, message)
    assert world.bindings() == []
    assert_password_still_usable(world, login)
    [failure] = upstream_failures(world)
    assert failure["provider"] == provider.key and failure["reason"] == reason


@pytest.mark.parametrize(
    ("provider", "fault"),
    [
        pytest.param(ESIA, "token_500", id="esia-token_500"),
        pytest.param(RSAA, "id_token_bad_signature", id="rsaa-sig"),
        # The profile is fetched after the sign-in found a proof parked: the proof is left in place.
        pytest.param(RSAA, "userinfo_wrong_sub", id="rsaa-userinfo"),
    ],
)
async def test_retry_succeeds_once_the_fault_is_gone(world: World, provider: Provider, fault: str) -> None:
    login = world.add_staff()
    await world.fault(provider.key, fault)
    async with world.browser() as browser:
        choose = await prove_password(browser, login)
        at_provider = await choose_provider(browser, choose, provider.title)
        page = await sign_in_at_provider(browser, at_provider, provider.email)
        assert REFUSED_TITLE in page.text

        # «Повторить» leads back to the provider buttons; the password proof is still parked.
        retry = next(link for link in _links(page.text) if link[1] == "Повторить")
        login_page = await browser.get(str(page.url.join(retry[0])))
        account = await choose_provider(browser, login_page, provider.title)
        if account.url.host == "idp.test":
            account = await sign_in_at_provider(browser, account, provider.email)
        # (The provider remembers its own sign-in and consent, so it may answer at once.)
        account = await past_profile(browser, account)
        assert account.url.path == "/account", account.text[:500]
    [(bound_login, bound_provider, _subject)] = world.bindings()
    assert (bound_login, bound_provider) == (login, provider.key)
    assert world.staff(login).password_hash is None


async def test_a_returning_rsaa_sign_in_asks_no_userinfo_and_a_binding_still_checks_it(world: World) -> None:
    """Only binding uses the profile: a returning sign-in is the verified id_token's alone (no
    userinfo request), while an external-first sign-in fetches userinfo and refuses an answer about
    someone else, parking nothing."""
    login = world.add_staff()
    asked: list[str] = []

    async def note(request: httpx.Request) -> None:
        asked.append(request.url.path)

    world.runtime.http.event_hooks["request"] = [*world.runtime.http.event_hooks["request"], note]
    await world.fault("rsaa", "userinfo_wrong_sub")
    async with world.browser() as browser:
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert_calm_refusal(page, REJECTED["rsaa"])
        assert asked.count("/rsaa/userinfo") == 1
        pending = await browser.get(f"{BRIDGE}/login/bind")
        assert REFUSED_TITLE in pending.text  # no pending binding to finish

        first = await choose_provider(browser, await browser.get(f"{BRIDGE}/login"), "РСАА")
        assert first.url.path == "/login/bind"  # the provider remembers the person: it answers at once
        account = await enter_password(browser, first, login)
        assert account.url.path == "/account", account.text[:500]
        assert asked.count("/rsaa/userinfo") == 2

        for cookie in list(browser.cookies.jar):  # a fresh browser at the bridge, still signed in upstream
            if cookie.domain.lstrip(".").startswith("bridge.test"):
                browser.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
        returning = await choose_provider(browser, await browser.get(f"{BRIDGE}/login"), "РСАА")
        assert returning.url.path == "/account", returning.text[:500]
    assert asked.count("/rsaa/userinfo") == 2
    assert asked.count("/rsaa/token") == 3


async def test_esia_person_data_of_someone_else_never_changes_whom_we_bind(world: World) -> None:
    """ESIA's /rs/prns body has no oid: only the verified id_token says who signed in."""
    login = world.add_staff()
    await world.fault("esia", "userinfo_wrong_sub")
    async with world.browser() as browser:
        choose = await prove_password(browser, login)
        account = await sign_in_at_provider(browser, await choose_provider(browser, choose, "Госуслуги"), SMIRNOVA)
        assert account.url.path == "/account"
    assert world.bindings() == [(login, "esia", SMIRNOVA_OID)]


async def test_esia_person_data_of_someone_else_fails_the_name_check(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, require_name_match=True), engine, keys)
    login = world.add_staff(surname="Смирнова", name="Елена", patronymic="Викторовна")
    await world.fault("esia", "userinfo_wrong_sub")
    async with world.browser() as browser:
        choose = await prove_password(browser, login)
        page = await sign_in_at_provider(browser, await choose_provider(browser, choose, "Госуслуги"), SMIRNOVA)
        assert REFUSED_TITLE in page.text and "не совпадают" in page.text
    assert world.bindings() == []
    assert_password_still_usable(world, login)


async def test_rsaa_key_rotation_is_followed(world: World) -> None:
    login = world.add_staff()
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"
    [(_, _, subject)] = world.bindings()

    await world.fault("rsaa", "key_rotated")
    async with world.browser() as browser:
        account = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert account.url.path == "/account", account.text[:500]
        assert "Вы вошли" in account.text
    # The old key is gone from the JWKS: the bridge must have refetched it to verify the token.
    async with world.browser() as browser:
        assert (await sign_in_through(browser, "РСАА", KUZNETSOV)).url.path == "/account"
    assert world.bindings() == [(login, "rsaa", subject)]
    assert upstream_failures(world) == []


# --- a provider that does not answer in time: the mock on a real port ---------------------------


@contextmanager
def served_mock(keys: Keys, delay: float) -> Iterator[tuple[str, Any]]:
    """The mock under uvicorn on 127.0.0.1; yields its URL and config."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = mock_config(keys, idp_url=url, token_timeout_delay_seconds=delay)
    server = uvicorn.Server(
        uvicorn.Config(create_mock_app(config), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield url, config
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@asynccontextmanager
async def real_port_browser(bridge: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Like World.browser, but the provider is reached over the network."""
    async with httpx.AsyncClient(
        mounts={BRIDGE: httpx.ASGITransport(app=bridge, client=("203.0.113.7", 40000))},
        follow_redirects=True,
        timeout=30,
        trust_env=False,
    ) as browser:
        yield browser


async def test_a_provider_that_does_not_answer_in_time(settings: Settings, engine: Engine, keys: Keys) -> None:
    delay = 3.0
    with served_mock(keys, delay) as (url, config):
        async with httpx.AsyncClient(timeout=1, trust_env=False) as http:
            runtime = build_runtime(settings, engine=engine, http=http, upstream=upstream_registry(keys, config))
            world = World(settings, runtime.db, runtime, create_app(settings, runtime=runtime), create_mock_app(config))
            login = world.add_staff()
            fault = await http.post(f"{url}/_mock/faults", json={"provider": "rsaa", "fault": "token_timeout"})
            assert fault.status_code == 201
            async with real_port_browser(world.bridge) as browser:
                choose = await prove_password(browser, login)
                at_provider = await choose_provider(browser, choose, "РСАА")
                assert at_provider.url.host == "127.0.0.1"
                started = time.monotonic()
                page = await sign_in_at_provider(browser, at_provider, KUZNETSOV, provider_host="127.0.0.1")
                elapsed = time.monotonic() - started

                assert_calm_refusal(page, UNAVAILABLE["rsaa"])
                assert elapsed < delay - 1, f"the bridge waited {elapsed:.1f} s for a provider that hangs"
            assert world.bindings() == []
            assert_password_still_usable(world, login)
            [failure] = upstream_failures(world)
            assert failure["provider"] == "rsaa" and failure["reason"] == "upstream_unavailable"
            assert "Timeout" in failure["detail"]


def _links(html: str) -> list[tuple[str, str]]:
    """(href, text) of every link on a page."""

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str]] = []
            self._href: str | None = None
            self._text = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self._href, self._text = dict(attrs).get("href") or "", ""

        def handle_data(self, data: str) -> None:
            if self._href is not None:
                self._text += data

        def handle_endtag(self, tag: str) -> None:
            if tag == "a" and self._href is not None:
                self.found.append((self._href, self._text.strip()))
                self._href = None

    parser = Links()
    parser.feed(html)
    return parser.found
