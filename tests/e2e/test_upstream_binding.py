"""Upstream responses are bound to the flow that asked for them, attacked through the real mock.

The attacker works only with what a browser and a leaked redirect give: they start a flow in their
own browser, edit the authorization URL, have the victim sign in at the provider through it, and
redeem the victim's code at their own callback; or they inject a code from the victim's own flow;
or they tamper with state and iss while a valid flow exists. Every attempt must end in a calm
page, with no sign-in session and no binding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import select

from bridge.storage.models import AuditEvent
from tests.e2e.world import (
    BRIDGE,
    World,
    answer_at_provider,
    authorization_url,
    enter_password,
    past_profile,
    sign_in_through,
)

# The sign-in cookie over https (the tests' bridge is https://bridge.test).
COOKIE_NAME = "__Host-bridge_sid"

SMIRNOVA = "e.smirnova@school1535.ru"
KUZNETSOV = "a.kuznetsov@school1535.ru"
REFUSED_TITLE = "Вход не выполнен"
REJECTED = "не прошёл проверку безопасности"
NO_FLOW = "Время ожидания входа истекло или вход начат в другом браузере"

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Provider:
    key: str
    title: str
    email: str
    surname: str
    name: str


ESIA = Provider("esia", "Госуслуги", SMIRNOVA, "Смирнова", "Елена")
RSAA = Provider("rsaa", "РСАА", KUZNETSOV, "Кузнецов", "Андрей")
BOTH = [pytest.param(ESIA, id="esia"), pytest.param(RSAA, id="rsaa")]


def audit(world: World, event: str) -> list[dict[str, Any]]:
    with world.db() as db:
        return [row.details for row in db.scalars(select(AuditEvent).where(AuditEvent.event == event))]


def with_query(url: str, change: dict[str, str | None]) -> str:
    """`url` with query parameters replaced (None removes one), order kept."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in change]
    query += [(key, value) for key, value in change.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def bound_victim(world: World, provider: Provider) -> str:
    """A staff member who has bound `provider`'s test person: a code for that person opens this account."""
    login = world.add_staff(surname=provider.surname, name=provider.name)
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, provider.title, provider.email)
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"
    return login


async def start(browser: httpx.AsyncClient, provider: Provider) -> str:
    return await authorization_url(browser, await browser.get(f"{BRIDGE}/login"), provider.title)


async def deliver(browser: httpx.AsyncClient, provider: Provider, answer: dict[str, str]) -> httpx.Response:
    return await browser.get(f"{BRIDGE}/login/callback/{provider.key}", params=answer)


def assert_refused(page: httpx.Response, browser: httpx.AsyncClient, message: str) -> None:
    assert page.status_code in (400, 502), page.text[:500]
    assert REFUSED_TITLE in page.text and message in page.text
    assert COOKIE_NAME not in browser.cookies
    assert not any(COOKIE_NAME in r.headers.get("set-cookie", "") for r in [*page.history, page])


# --- an attacker edits the authorization URL and has the victim sign in through it ---------------


@pytest.mark.parametrize("provider", BOTH)
@pytest.mark.parametrize("edit", ["nonce_removed", "nonce_changed"])
async def test_an_edited_authorization_url_gives_the_attacker_nothing(
    world: World, provider: Provider, edit: str
) -> None:
    await bound_victim(world, provider)
    signed_in_before = len(audit(world, "signin.success"))
    async with world.browser() as attacker, world.browser() as victim:
        url = await start(attacker, provider)
        # Our nonce is 128 (ESIA) or 256 random bits; the attacker replaces or drops it.
        assert len(query_of(url)["nonce"]) >= 32
        edited = with_query(url, {"nonce": None if edit == "nonce_removed" else "attacker-chosen-nonce-0000000000"})

        # The victim signs in at the real provider through the edited URL; the answer leaks.
        leaked = await answer_at_provider(victim, edited, provider.email)
        assert leaked["code"] and leaked["state"] == query_of(url)["state"]

        page = await deliver(attacker, provider, leaked)
        assert_refused(page, attacker, REJECTED)
    [failure] = audit(world, "upstream.failed")
    assert failure["provider"] == provider.key and failure["reason"] == "upstream_rejected"
    assert "nonce" in failure["detail"]
    assert len(audit(world, "signin.success")) == signed_in_before


@pytest.mark.parametrize("provider", BOTH)
async def test_a_code_from_the_victims_own_flow_does_not_open_the_attackers(world: World, provider: Provider) -> None:
    """Code injection: the victim's code (issued for the victim's nonce and PKCE) at the attacker's callback."""
    await bound_victim(world, provider)
    signed_in_before = len(audit(world, "signin.success"))
    async with world.browser() as attacker, world.browser() as victim:
        stolen = await answer_at_provider(victim, await start(victim, provider), provider.email)
        attacker_state = query_of(await start(attacker, provider))["state"]

        page = await deliver(attacker, provider, {**stolen, "state": attacker_state})
        assert page.status_code in (400, 502) and REFUSED_TITLE in page.text
        assert COOKIE_NAME not in attacker.cookies
    [failure] = audit(world, "upstream.failed")
    # ESIA: only the nonce ties the code to its flow. РСАА: PKCE stops it at the token endpoint first.
    assert ("nonce" in failure["detail"]) if provider is ESIA else failure["reason"] == "upstream_unavailable"
    assert len(audit(world, "signin.success")) == signed_in_before


async def test_oidc_requests_carry_pkce_s256_and_fresh_nonces(world: World) -> None:
    async with world.browser() as browser:
        queries = [query_of(await start(browser, RSAA)) for _ in range(3)]
        esia = [query_of(await start(browser, ESIA)) for _ in range(20)]
    for query in queries:
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert len(query["nonce"]) >= 43  # 256 bits, URL-safe base64
    assert len({query["nonce"] for query in queries}) == len({query["state"] for query in queries}) == 3
    nonces = [query["nonce"] for query in esia]
    assert all(len(nonce) == 32 and int(nonce, 16) >= 0 for nonce in nonces) and len(set(nonces)) == 20
    # 128 random bits, not a UUID4 (whose 13th hex digit is always 4: 122 bits).
    assert any(nonce[12] != "4" for nonce in nonces)


# --- state and iss are checked while a valid flow exists -----------------------------------------


async def valid_answer(world: World, browser: httpx.AsyncClient, provider: Provider) -> dict[str, str]:
    """Local first (the password is proved, so an accepted answer would bind at once), then a real
    answer from the provider for this browser's own flow."""
    login = world.add_staff(surname=provider.surname, name=provider.name)
    choose = await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login)
    assert choose.url.path == "/login/first/provider"
    return await answer_at_provider(browser, await authorization_url(browser, choose, provider.title), provider.email)


@pytest.mark.parametrize("provider", BOTH)
@pytest.mark.parametrize("state", ["wrong", "missing", "empty"])
async def test_a_wrong_or_missing_state_is_refused(world: World, provider: Provider, state: str) -> None:
    async with world.browser() as browser:
        genuine = await valid_answer(world, browser, provider)
        answer = dict(genuine)
        answer.pop("state")
        if state == "wrong":
            answer["state"] = "0f2b5c1e-6d0e-4c8b-9a51-3f1f0d6f2a77"
        elif state == "empty":
            answer["state"] = ""
        page = await deliver(browser, provider, answer)
        # No step of this browser is named by that state: nothing to resume, nothing spent.
        assert_refused(page, browser, NO_FLOW)
        assert world.bindings() == []
        assert [event["provider"] for event in audit(world, "upstream.no_flow")] == [provider.key]
        # The genuine answer still finds its step.
        assert (await past_profile(browser, await deliver(browser, provider, genuine))).url.path == "/account"
    assert len(world.bindings()) == 1


@pytest.mark.parametrize(
    ("provider", "iss"),
    [
        pytest.param(RSAA, "http://idp.test/rsaa-other", id="rsaa-wrong"),
        pytest.param(RSAA, None, id="rsaa-missing-although-announced"),
        pytest.param(RSAA, "", id="rsaa-empty"),
        pytest.param(ESIA, "http://esia-portal1.test.gosuslugi.ru/", id="esia-wrong"),
    ],
)
async def test_a_wrong_or_missing_iss_is_refused(world: World, provider: Provider, iss: str | None) -> None:
    async with world.browser() as browser:
        answer = await valid_answer(world, browser, provider)
        assert answer.get("iss") == ("http://idp.test/rsaa" if provider is RSAA else None)
        answer.pop("iss", None)
        if iss is not None:
            answer["iss"] = iss
        page = await deliver(browser, provider, answer)
        assert_refused(page, browser, REJECTED)
    assert world.bindings() == []
    [failure] = audit(world, "upstream.failed")
    assert failure["reason"] == "upstream_rejected" and "iss" in failure["detail"]


@pytest.mark.parametrize("provider", BOTH)
async def test_the_same_answer_untouched_binds(world: World, provider: Provider) -> None:
    """The control for the tests above: their answers were good until they were tampered with."""
    async with world.browser() as browser:
        answer = await valid_answer(world, browser, provider)
        page = await past_profile(browser, await deliver(browser, provider, answer))
        assert page.url.path == "/account", page.text[:500]
    assert [bound for _, bound, _ in world.bindings()] == [provider.key]
