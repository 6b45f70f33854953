"""How much SQL one returning sign-in costs, counted (a count, not a timing) through the real HTTP flow.

A returning sign-in: the app sends the browser to /oidc/authorize naming РСАА, the person is
already signed in there, the bridge finds the binding and answers the app with a code, which
the app redeems and then reads userinfo. Everything the bridge says to the database on the way
is counted with SQLAlchemy's engine events; on failure the test prints the statements.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, event, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.services.clients import register_client
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.models import StaffMember
from tests.e2e.world import BRIDGE, World, enter_password, sign_in_at_provider

pytestmark = pytest.mark.anyio

APP = "https://app.test"
KUZNETSOV = "a.kuznetsov@school1535.ru"
# Issue 12 asks for ~12 statements in at most 3 transactions; main had 52 in 12 (counting each
# connection-level BEGIN, reads included). Where the 30 went: 5 bridge requests (authorize, the
# upstream round trip's start, the callback, authorize again, token, userinfo) each with its own
# transaction and row per ceremony step (parked request, upstream state, local-proof check, code,
# grant, refresh token), and 3 audit records at 3 statements each (the hash chain's head). The
# budget is what the code does now, so that no read creeps back in unnoticed. One more since: the
# authorization reads the person's active roles to hold the app until the profile is complete.
# Two fewer since: token and userinfo read the person's roles with the sign-in session.
STATEMENT_BUDGET = 29
TRANSACTION_BUDGET = 10


@dataclass
class SqlLog:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    def report(self) -> str:
        lines = [f"{len(self.statements)} statements in {self.transactions} transactions:"]
        lines += [f"  {number:2d}. {' '.join(text.split())[:160]}" for number, text in enumerate(self.statements, 1)]
        return "\n".join(lines)


@contextmanager
def counting(engine: Engine) -> Iterator[SqlLog]:
    log = SqlLog()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        log.statements.append(statement)

    def on_begin(_conn: Any) -> None:
        log.transactions += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)


def the_app() -> Starlette:
    """The relying app's callback: it shows the query the bridge sent back."""

    async def callback(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.url.query)

    return Starlette(routes=[Route("/callback", callback)])


@dataclass
class Client:
    client_id: str
    secret: str


def register_app(world: World) -> Client:
    with world.db() as db, db.begin():
        registered = register_client(
            db, world.settings.secret_key, name="ИС Контингент", client_id="kontingent",
            redirect_uris=[f"{APP}/callback"], scope="openid profile email roles",
        )
    assert registered.client_secret is not None
    return Client("kontingent", registered.client_secret)


async def app_signs_in(browser: httpx.AsyncClient, client: Client, *, first: str | None = None) -> dict[str, Any]:
    """The app's whole sign-in: authorize (naming РСАА) → … → its callback → token → userinfo.

    `first` is the login to bind with, when the person meets the bridge for the first time.
    """
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": f"{APP}/callback",
        "scope": "openid profile roles", "state": "s1", "nonce": "n1", "code_challenge": challenge,
        "code_challenge_method": "S256", "idp_hint": "rsaa",
    }
    page = await browser.get(f"{BRIDGE}/oidc/authorize?{urlencode(query)}")
    if first is not None:
        page = await enter_password(browser, await sign_in_at_provider(browser, page, KUZNETSOV), first)
    assert page.url.host == "app.test", f"{page.url}: {page.text[:300]}"
    code = parse_qs(urlsplit(str(page.url)).query)["code"][0]
    token = await browser.post(
        f"{BRIDGE}/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP}/callback",
              "code_verifier": verifier},
        auth=(client.client_id, client.secret),
    )
    assert token.status_code == 200, token.text
    userinfo = await browser.get(
        f"{BRIDGE}/oidc/userinfo", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    claims: dict[str, Any] = userinfo.json()
    return claims


def forget_bridge_cookies(browser: httpx.AsyncClient) -> None:
    """A fresh browser as far as the bridge knows; still signed in at the provider."""
    for cookie in list(browser.cookies.jar):
        if cookie.domain.lstrip(".").startswith("bridge.test"):
            browser.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)


async def test_a_returning_sign_in_stays_within_its_sql_budget_however_many_sessions_came_before(
    world: World, engine: Engine
) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        first = await app_signs_in(browser, client, first=login)
        for _ in range(2):
            # Warm: the signing key exists, the provider's metadata and keys are cached.
            forget_bridge_cookies(browser)
            await app_signs_in(browser, client)
        forget_bridge_cookies(browser)
        with counting(engine) as fresh:
            claims = await app_signs_in(browser, client)
        past_sessions(world, login, 300)
        forget_bridge_cookies(browser)
        with counting(engine) as used:
            await app_signs_in(browser, client)
    assert claims["sub"] == first["sub"]
    assert len(fresh.statements) <= STATEMENT_BUDGET and fresh.transactions <= TRANSACTION_BUDGET, fresh.report()
    # Flat with use: nothing lists the person's sessions (each is found by its key).
    assert len(used.statements) == len(fresh.statements), used.report()


def past_sessions(world: World, login: str, count: int) -> None:
    """`count` more live sessions of the person, as sign-ins in fresh browsers leave them."""
    with world.db() as db, db.begin():
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        for _ in range(count):
            start_signin_session(
                db, staff, keys=SessionKeys.of(world.settings.secret_key), provider="rsaa", amr=["fed"], acr=None,
                lifetime=timedelta(hours=12), remember=False,
            )


async def test_a_parked_authorization_request_answers_once_even_to_parallel_returns(world: World) -> None:
    """Back from the sign-in pages, the parked request is taken by one DELETE … RETURNING: two
    parallel returns to the same tab (a double click, a replayed URL) get one code between them."""
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        await app_signs_in(browser, client, first=login)
        forget_bridge_cookies(browser)
        query = {
            "response_type": "code", "client_id": client.client_id, "redirect_uri": f"{APP}/callback",
            "scope": "openid", "state": "s2", "nonce": "n2", "code_challenge": "x" * 43,
            "code_challenge_method": "S256", "idp_hint": "rsaa",
        }
        step = await browser.get(f"{BRIDGE}/oidc/authorize?{urlencode(query)}", follow_redirects=False)
        while not step.headers["location"].startswith("/oidc/authorize?tab_id="):
            step = await browser.get(step.url.join(step.headers["location"]), follow_redirects=False)
        resume = str(step.url.join(step.headers["location"]))
        answers = await asyncio.gather(*(browser.get(resume, follow_redirects=False) for _ in range(2)))
    codes = [a for a in answers if a.status_code in (302, 303) and "code=" in a.headers.get("location", "")]
    assert len(codes) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
    assert sorted(a.status_code for a in answers) == [302, 400]


# The signed-in code flow: the person is signed in at the bridge already (its cookie is kept), so
# the app's authorize answers with a code at once; then token and userinfo. 17 in 3: authorize
# (session, client, roles for the profile check, code, audit record ×3), token (client, code,
# its claim, session with person and roles, grant, refresh token, audit record ×3), userinfo
# (grant with session, person and roles).
CODE_FLOW_STATEMENT_BUDGET = 17
CODE_FLOW_TRANSACTION_BUDGET = 3


async def test_a_signed_in_code_flow_stays_within_its_sql_budget(world: World, engine: Engine) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        first = await app_signs_in(browser, client, first=login)
        for _ in range(2):
            await app_signs_in(browser, client)
        with counting(engine) as log:
            claims = await app_signs_in(browser, client)
    assert claims["sub"] == first["sub"]
    assert len(log.statements) <= CODE_FLOW_STATEMENT_BUDGET, log.report()
    assert log.transactions <= CODE_FLOW_TRANSACTION_BUDGET, log.report()
