"""How much SQL one returning sign-in costs, counted (a count, not a timing) through the real HTTP flow.

A returning sign-in: the app sends the browser to /oidc/authorize naming РСАА, the bridge sends
it straight there, the person is already signed in, the bridge's callback finds the binding and
answers the app with a code, which the app redeems and then reads userinfo. Everything the bridge
says to the database on the way is counted with SQLAlchemy's engine events; on failure the test
prints the statements.
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
from sqlalchemy import Engine, event, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.services.clients import register_client
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.models import AuthFlow, StaffMember
from tests.e2e.world import BRIDGE, IDP, World, enter_password, sign_in_at_provider

pytestmark = pytest.mark.anyio

APP = "https://app.test"
KUZNETSOV = "a.kuznetsov@school1535.ru"
# Issue 12 asks for ~12 statements in at most 3 transactions; main had 52 in 12 (counting each
# connection-level BEGIN, reads included). It was 31 in 10 over six bridge requests (authorize, the
# login page starting the upstream round trip, the callback, authorize again, token, userinfo).
# Now a broker's four: authorize goes straight upstream (request and round trip parked together),
# and the callback answers the app itself, taking the parked request and issuing the code in the
# transaction that opens the session. The budget is what the code does now, so that no read creeps
# back in unnoticed. Token and userinfo read the person's roles with the sign-in session. The
# callback's answer to the app reuses the roles the sign-in read, and its two audit records are
# inserted by one statement. 22 since authorize parks the request and the round trip by one INSERT
# and the callback reads the bound person with their roles (and organizations) in one SELECT.
# 20 since an audited commit links its records from the chain head the process last wrote and
# advances the head's hash with the claim that locks it (bridge/services/audit_chain.py): on
# SQLite two statements per audited commit rather than three (PostgreSQL had two already).
# 19 since token redeems the code by one UPDATE … RETURNING whose conditions are the checks (the
# code is read only when that claims nothing, to tell why).
# 18 since the callback's take of the round trip also notes whether a password proved in this
# browser waits (flow_state.consume_noting): the unit of work reads for a proof only when one did.
STATEMENT_BUDGET = 18
TRANSACTION_BUDGET = 5


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


async def app_signs_in(
    browser: httpx.AsyncClient, client: Client, *, first: str | None = None, email: str = KUZNETSOV
) -> dict[str, Any]:
    """The app's whole sign-in: authorize (naming РСАА) → … → its callback → token → userinfo.

    `first` is the login to bind with, when the person (`email` at the provider) meets the bridge
    for the first time.
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
        page = await enter_password(browser, await sign_in_at_provider(browser, page, email), first)
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


async def _redirects_until(browser: httpx.AsyncClient, url: str, path_prefix: str) -> str:
    """Follow the browser's redirects from `url` until one points at `path_prefix`: that address."""
    step = await browser.get(url, follow_redirects=False)
    while not urlsplit(step.headers["location"]).path.startswith(path_prefix):
        step = await browser.get(step.url.join(step.headers["location"]), follow_redirects=False)
    return str(step.url.join(step.headers["location"]))


def _query(client: Client, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": f"{APP}/callback",
        "scope": "openid", "state": "s2", "nonce": "n2", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "idp_hint": "rsaa", **extra,
    }


def _one_code(answers: list[httpx.Response]) -> None:
    codes = [a for a in answers if a.status_code in (302, 303) and "code=" in a.headers.get("location", "")]
    assert len(codes) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
    assert sorted(a.status_code for a in answers) == [codes[0].status_code, 400]


async def test_an_upstream_callback_answers_the_app_once_even_to_parallel_replays(world: World) -> None:
    """The callback answers the waiting app itself: its upstream state is taken by one DELETE …
    RETURNING before anything else, so two parallel replays of it (a double click, a replayed URL)
    get one code between them; the other is refused (the round trip is over)."""
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        await app_signs_in(browser, client, first=login)
        forget_bridge_cookies(browser)
        start = f"{BRIDGE}/oidc/authorize?{urlencode(_query(client))}"
        callback = await _redirects_until(browser, start, "/login/callback/")
        answers = await asyncio.gather(*(browser.get(callback, follow_redirects=False) for _ in range(2)))
    _one_code(list(answers))
    # The parked request was taken in the callback's transaction: nothing is left to resume at its tab.
    with world.db() as db:
        assert db.scalar(select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == "authorization")) == 0


async def test_a_parked_authorization_request_answers_once_even_to_parallel_returns(world: World) -> None:
    """Back from a page of ours (here the account choice the app asked for), the parked request is
    taken by one DELETE … RETURNING: two parallel returns to the same tab get one code between them."""
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        await app_signs_in(browser, client, first=login)
        forget_bridge_cookies(browser)
        query = _query(client, prompt="select_account")
        role_page = await _redirects_until(browser, f"{BRIDGE}/oidc/authorize?{urlencode(query)}", "/login/role")
        resume = parse_qs(urlsplit(role_page).query)["next"][0]
        assert resume.startswith("/oidc/authorize?tab_id="), resume
        answers = await asyncio.gather(*(browser.get(f"{BRIDGE}{resume}", follow_redirects=False) for _ in range(2)))
    _one_code(list(answers))


async def test_a_named_provider_is_reached_straight_from_the_authorization_endpoint(world: World) -> None:
    """With idp_hint naming a configured provider the endpoint redirects straight upstream, passing
    on a fresh login and max_age as the login page would; a hint naming no configured provider gets
    the login page, as before; and a returning person reaches the app through two bridge requests
    (authorize, callback) before the app's token and userinfo."""
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        await app_signs_in(browser, client, first=login)
        forget_bridge_cookies(browser)
        fresh = await browser.get(
            f"{BRIDGE}/oidc/authorize?{urlencode(_query(client, prompt='login', max_age='600'))}",
            follow_redirects=False,
        )
        upstream = urlsplit(fresh.headers["location"])
        assert fresh.status_code == 303 and fresh.headers["cache-control"] == "no-store"
        assert f"{upstream.scheme}://{upstream.netloc}" == IDP, fresh.headers["location"]
        assert parse_qs(upstream.query)["prompt"] == ["login"] and parse_qs(upstream.query)["max_age"] == ["600"]

        unknown = await browser.get(
            f"{BRIDGE}/oidc/authorize?{urlencode(_query(client, idp_hint='nowhere'))}", follow_redirects=False
        )
        assert urlsplit(unknown.headers["location"]).path == "/login"
        assert parse_qs(urlsplit(unknown.headers["location"]).query)["provider"] == ["nowhere"]

        forget_bridge_cookies(browser)
        answered = await browser.get(f"{BRIDGE}/oidc/authorize?{urlencode(_query(client))}")
    assert answered.url.host == "app.test" and "code" in parse_qs(answered.url.query.decode())
    bridge_steps = [step.url for step in answered.history if step.url.host == "bridge.test"]
    assert [url.path for url in bridge_steps] == ["/oidc/authorize", "/login/callback/rsaa"], bridge_steps


# The signed-in code flow: the person is signed in at the bridge already (its cookie is kept), so
# the app's authorize answers with a code at once; then token and userinfo. 13 in 3: authorize
# (session with person and roles — the profile check reads their positions —, client, code, audit
# record ×2), token (client, the code's claim — UPDATE … RETURNING, its conditions the checks —,
# session with person and roles, grant, refresh token, audit record ×2), userinfo (grant with
# session, person and roles: one read on a plain connection, outside any ORM session, nothing
# committed; tests/op/test_userinfo_tokens.py). Userinfo's transaction here is SQLAlchemy's `begin`
# event only: the database sees none (on PostgreSQL the read runs in autocommit, no BEGIN or
# ROLLBACK; SQLite's driver begins none before a SELECT). It was 17: authorize read the roles for
# the profile check apart from the session; 16 until an audit record took three statements on
# SQLite (the chain head's hash is now advanced by the claim that locks it); 14 until token read
# the code before claiming it.
CODE_FLOW_STATEMENT_BUDGET = 13
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


# A first sign-in through the pages: authorize (naming РСАА) → the provider → the callback (the
# identity parked as a pending binding) → the password page → its POST (the attempt reserved, the
# hash outside any transaction, the success settled with the pending binding taken, then the
# binding and the session) → the workplace-data page → its POST, which answers the app itself
# (the parked request taken and decided in the saving transaction) → token → userinfo. It was nine
# bridge requests, 69 statements in 16 transactions (the page's POST sent the browser back to
# /oidc/authorize, which took and decided the request in two transactions of its own). The
# callback decides twice through РСАА: a returning sign-in goes without userinfo, so finding nobody
# bound it fetches the profile (binding needs it) and decides again with the whole identity, the
# pending binding parked in that second transaction (one more than parking it with the first).
# A browser's one pending binding is replaced by one upsert, not a DELETE and an INSERT.
FIRST_SIGNIN_BRIDGE_PATHS = [
    "/oidc/authorize", "/login/callback/rsaa", "/login/bind", "/login/bind", "/login/profile", "/login/profile",
    "/oidc/token", "/oidc/userinfo",
]
# 49 since an audited commit takes two statements on SQLite, not three (53 before). 48 in 11 since
# the password step binds in the transaction that settles the throttle and takes the pending
# binding, and reads the login's counters by the DELETE … RETURNING that clears them; 47 since
# token claims the code without reading it first; 46 since the callback's first look (without the
# profile) reads for a parked proof only when the round trip's take noted one.
FIRST_SIGNIN_STATEMENT_BUDGET = 46
FIRST_SIGNIN_TRANSACTION_BUDGET = 11


async def test_a_first_sign_in_through_the_pages_stays_within_its_requests_and_sql(
    world: World, engine: Engine
) -> None:
    warm = world.add_staff(surname="Смирнова", name="Елена", patronymic="Викторовна")
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    client = register_app(world)
    async with world.browser(apps={APP: the_app()}) as browser:
        # Warm: the signing key exists, the provider's metadata and keys are cached.
        await app_signs_in(browser, client, first=warm, email="e.smirnova@school1535.ru")
    bridge_paths: list[str] = []

    async def note(request: httpx.Request) -> None:
        if request.url.host == "bridge.test":
            bridge_paths.append(request.url.path)

    async with world.browser(apps={APP: the_app()}) as browser:
        browser.event_hooks["request"] = [note]
        with counting(engine) as log:
            claims = await app_signs_in(browser, client, first=login)
    assert claims["sub"]
    assert bridge_paths == FIRST_SIGNIN_BRIDGE_PATHS
    assert len(log.statements) <= FIRST_SIGNIN_STATEMENT_BUDGET, log.report()
    assert log.transactions <= FIRST_SIGNIN_TRANSACTION_BUDGET, log.report()
