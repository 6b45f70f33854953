"""Attacks on the paths issue 12 rewrote for speed (the review after commit fb2d09f).

- Flow steps are taken by a DELETE … RETURNING built once: parallel callbacks with one state,
  from one browser or from a twin with the copied cookie, answer the app once.
- The bound person is read by a statement built once and the binding's last use written by a Core
  UPDATE: each identity signs into its own account, and only its own binding is touched.
- The workplace-data page answers the app's parked request itself: a forged `next`, a missing
  CSRF token or a replayed submission gets no code.
- Blocking calls run in the app's own worker threads with a copy of the caller's context: parallel
  requests never see each other's request id or provider context.

Every test here passes while the protection holds; the mutations that remove it are in
scripts/mutation_catalogue.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.app import create_app
from bridge.blocking import worker_threads
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.storage.models import AuditEvent, AuthFlow, ExternalBinding, SignInSession, StaffMember
from bridge.storage.types import utcnow
from idp_mock.app import create_app as create_mock_app
from tests.e2e.test_callback_answers_app_attacks import (
    APP,
    KUZNETSOV,
    NO_FLOW,
    SMIRNOVA,
    _app,
    answered_app,
    authorize_url,
    bound,
    callback_for,
    codes,
    forget_bridge_cookies,
    forget_provider_cookies,
    parked_requests,
    register_app,
)
from tests.e2e.world import (
    BRIDGE,
    PROFILE_PATH,
    Keys,
    World,
    enter_password,
    mock_config,
    only_form,
    sign_in_at_provider,
    upstream_registry,
)

pytestmark = pytest.mark.anyio

FLOW_COOKIE = "__Host-bridge_flow"


# --- flow steps: one DELETE … RETURNING, bound to the browser ------------------------------------


async def test_parallel_callbacks_with_one_state_answer_the_app_once_in_the_apps_worker_threads(world: World) -> None:
    """The brokered short path, four copies of one callback at once (two from the browser, two from
    a twin holding its copied flow cookie), served by the app's own worker threads: one code, the
    other three refused as a finished round trip, one sign-in session."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser, world.browser(apps={APP: _app()}) as twin:
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        twin.cookies.set(FLOW_COOKIE, browser.cookies[FLOW_COOKIE], domain="bridge.test")
        issued = codes(world)
        async with worker_threads(4):
            answers = await asyncio.gather(
                *(client.get(callback, follow_redirects=False) for client in (browser, twin, browser, twin))
            )
    to_app = [answer for answer in answers if answer.headers.get("location", "").startswith(f"{APP}/callback")]
    assert len(to_app) == 1 and "code" in answered_app(to_app[0])
    assert sorted(answer.status_code for answer in answers if answer not in to_app) == [400, 400, 400]
    assert all(NO_FLOW in answer.text for answer in answers if answer not in to_app)
    assert codes(world) == issued + 1
    assert parked_requests(world) == 0


async def test_an_expired_round_trip_is_refused_and_gone_even_with_the_right_browser_and_state(world: World) -> None:
    """The step is taken (deleted) first and judged by its expiry after: an expired one answers
    nothing and cannot be tried again."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        with world.db() as db, db.begin():
            db.execute(update(AuthFlow).values(expires_at=utcnow() - timedelta(seconds=1)))
        answer = await browser.get(callback, follow_redirects=False)
        assert answer.status_code == 400 and NO_FLOW in answer.text
        with world.db() as db:
            assert db.scalar(select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == "upstream")) == 0
    assert codes(world) == issued


# --- the bound person: read by a statement built once, its last use by a Core UPDATE -------------


def last_uses(world: World) -> dict[str, object]:
    with world.db() as db:
        rows = db.execute(select(StaffMember.login, ExternalBinding.last_used_at).join(
            StaffMember, StaffMember.id == ExternalBinding.staff_id
        )).all()
    return {login: used for login, used in rows}


async def test_each_bound_identity_signs_into_its_own_account_and_touches_only_its_binding(world: World) -> None:
    """Two people bound to two identities of one provider: each identity's returning sign-in gets
    its own person's code (the sub the app hears), and only its own binding's last use moves."""
    secret = register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        smirnova = await bound(world, browser, SMIRNOVA, surname="Смирнова", name="Елена", patronymic="Викторовна")
        forget_provider_cookies(browser)
        kuznetsov = await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        forget_provider_cookies(browser)
        long_ago = utcnow() - timedelta(days=30)
        with world.db() as db, db.begin():
            db.execute(update(ExternalBinding).values(last_used_at=long_ago))

        subjects = {}
        for email, login in ((SMIRNOVA, smirnova), (KUZNETSOV, kuznetsov)):
            answer = await browser.get(await callback_for(browser, email, verifier="s" * 48), follow_redirects=False)
            code = answered_app(answer)["code"][0]
            token = await browser.post(
                f"{BRIDGE}/oidc/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP}/callback",
                      "code_verifier": "s" * 48},
                auth=("kontingent", secret),
            )
            assert token.status_code == 200, token.text
            info = await browser.get(
                f"{BRIDGE}/oidc/userinfo", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
            )
            subjects[login] = info.json()["sub"]
            forget_bridge_cookies(browser)
            forget_provider_cookies(browser)
            if login == smirnova:
                used = last_uses(world)
                assert used[smirnova] != long_ago and used[kuznetsov] == long_ago, used
    assert subjects[smirnova] == world.staff(smirnova).subject
    assert subjects[kuznetsov] == world.staff(kuznetsov).subject


# --- the workplace-data page answering the app ----------------------------------------------------


async def profile_due(world: World, browser: httpx.AsyncClient) -> httpx.Response:
    """A first sign-in the app started, the person's position missing: the profile page, signed in,
    the app's request parked under `next`."""
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    with world.db() as db, db.begin():
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        staff.email = "kuznetsov@school.test"
        for role in staff.roles:
            role.position = None
    page = await browser.get(authorize_url())
    bind_page = await sign_in_at_provider(browser, page, KUZNETSOV, through_profile=False)
    profile = await enter_password(browser, bind_page, login, through_profile=False)
    assert profile.url.path == PROFILE_PATH, profile.url
    assert only_form(profile, PROFILE_PATH).fields["next"].startswith("/oidc/authorize?tab_id=")
    return profile


def filled(profile: httpx.Response, **overrides: str) -> dict[str, str]:
    form = only_form(profile, PROFILE_PATH)
    positions = {name: "учитель" for name in form.fields if name.startswith("position_")}
    return {**form.fields, **positions, "action": "save", **overrides}


async def test_a_forged_next_naming_another_browsers_parked_request_gets_no_code(world: World) -> None:
    """The page takes the request parked under `next` for this browser only: naming the tab of a
    request waiting in the victim's browser answers nothing, and the victim's request still waits."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as attacker, world.browser(apps={APP: _app()}) as victim:
        waiting = await victim.get(authorize_url(idp_hint=""), follow_redirects=False)
        victims_next = parse_qs(urlsplit(waiting.headers["location"]).query)["next"][0]
        assert victims_next.startswith("/oidc/authorize?tab_id="), victims_next
        parked = parked_requests(world)

        profile = await profile_due(world, attacker)
        issued = codes(world)
        answer = await attacker.post(
            str(profile.url.join(PROFILE_PATH)), data=filled(profile, next=victims_next), follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == victims_next, answer.headers
        assert codes(world) == issued
        # The attacker's own request is still parked, the victim's too (each under its browser).
        assert parked_requests(world) == parked + 1
        stale = await attacker.get(f"{BRIDGE}{victims_next}", follow_redirects=False)
        assert stale.status_code == 400 and "location" not in stale.headers
    assert codes(world) == issued


async def test_the_page_without_its_csrf_token_answers_nothing_and_leaves_the_request_parked(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        profile = await profile_due(world, browser)
        issued, parked = codes(world), parked_requests(world)
        data = filled(profile)
        for forged in ("", "0" * 64):
            refused = await browser.post(
                str(profile.url.join(PROFILE_PATH)), data={**data, "csrf_token": forged}, follow_redirects=False
            )
            assert refused.status_code == 403, refused.status_code
        assert codes(world) == issued and parked_requests(world) == parked
        # The genuine form, once: the app's code; posted again (a refresh): no second code.
        first = await browser.post(str(profile.url.join(PROFILE_PATH)), data=data, follow_redirects=False)
        assert "code" in answered_app(first)
        again = await browser.post(str(profile.url.join(PROFILE_PATH)), data=data, follow_redirects=False)
        assert again.status_code == 303 and not again.headers["location"].startswith(APP), again.headers
        resumed = await browser.get(f"{BRIDGE}{again.headers['location']}", follow_redirects=False)
        assert resumed.status_code == 400 and "location" not in resumed.headers
    assert codes(world) == issued + 1 and parked_requests(world) == 0


async def test_the_page_answering_the_app_still_asks_what_the_app_asked_for(world: World) -> None:
    """An app that asked for prompt=select_account: saving the page sends the person to choose
    (the page runs the endpoint's whole decision, not a shortcut to a code), and no code is issued."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        with world.db() as db, db.begin():
            staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
            staff.email = "kuznetsov@school.test"
            for role in staff.roles:
                role.position = None
        page = await browser.get(authorize_url(prompt="select_account"))
        bind_page = await sign_in_at_provider(browser, page, KUZNETSOV, through_profile=False)
        profile = await enter_password(browser, bind_page, login, through_profile=False)
        assert profile.url.path == PROFILE_PATH, profile.url
        issued = codes(world)
        answer = await browser.post(str(profile.url.join(PROFILE_PATH)), data=filled(profile), follow_redirects=False)
        # prompt=select_account is answered by the role choice, the request parked again for it.
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login/role?next="), answer.headers
        assert codes(world) == issued
        assert parked_requests(world) == 1


# --- worker threads: each request's own context ---------------------------------------------------


async def test_parallel_requests_in_the_worker_threads_keep_their_own_request_id_and_provider_context(
    world: World,
) -> None:
    """Twenty-four token requests at once from unknown clients, each with its own X-Request-ID, on
    four worker threads: every refusal is audited with the client it named and the id of the very
    request that named it (no request id or provider context carried from one call to another)."""
    names = [f"client-{number:02d}" for number in range(24)]
    async with world.browser() as browser, worker_threads(4) as threads:
        answers = await asyncio.gather(*(
            browser.post(
                f"{BRIDGE}/oidc/token",
                data={"grant_type": "authorization_code", "code": "x", "redirect_uri": f"{APP}/callback",
                      "client_id": name, "client_secret": "wrong"},
                headers={"X-Request-ID": f"request-for-{name}"},
            )
            for name in names
        ))
        assert threads.started > 1
    assert {answer.json()["error"] for answer in answers} == {"invalid_client"}
    assert [answer.headers["x-request-id"] for answer in answers] == [f"request-for-{name}" for name in names]
    with world.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.token.refused")).all()
    assert sorted((row.details["client_id"], row.details["request_id"]) for row in rows) == [
        (name, f"request-for-{name}") for name in names
    ]


class HeldTokenEndpoint:
    """The provider's token endpoint held until released: the bridge's callback waits in the middle."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.holding = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.holding and scope["type"] == "http" and scope["path"].endswith("/token"):
            self.entered.set()
            await self.release.wait()
        await self.app(scope, receive, send)


async def test_a_callback_cancelled_half_way_leaves_nothing_a_retry_can_use(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    """The caller of a callback goes away (cancelled) after the round trip was taken and while the
    provider's token endpoint is being asked: the round trip is spent, no session and no code were
    made, the same callback again is refused as finished, and the app's request is answered only by
    a new sign-in of this browser (one code in all)."""
    config = mock_config(keys)
    held = HeldTokenEndpoint(create_mock_app(config))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=held), timeout=5)
    runtime = build_runtime(settings, engine=engine, http=http, upstream=upstream_registry(keys, config))
    world = World(settings, runtime.db, runtime, create_app(settings, runtime=runtime), held.app)
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser, worker_threads(4):
        await bound(world, browser, KUZNETSOV, surname="Кузнецов", name="Андрей", patronymic="Николаевич")
        callback = await callback_for(browser, KUZNETSOV)
        issued, parked = codes(world), parked_requests(world)
        with world.db() as db:
            sessions_before = db.scalar(select(func.count()).select_from(SignInSession))

        held.holding = True
        delivery = asyncio.ensure_future(browser.get(callback, follow_redirects=False))
        await held.entered.wait()
        delivery.cancel()
        with pytest.raises(asyncio.CancelledError):
            await delivery
        held.holding = False
        held.release.set()

        with world.db() as db:
            assert db.scalar(select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == "upstream")) == 0
            assert db.scalar(select(func.count()).select_from(SignInSession)) == sessions_before
        assert codes(world) == issued and parked_requests(world) == parked

        again = await browser.get(callback, follow_redirects=False)
        assert again.status_code == 400 and NO_FLOW in again.text
        assert codes(world) == issued

        fresh = await browser.get(await callback_for(browser, KUZNETSOV), follow_redirects=False)
        assert "code" in answered_app(fresh)
    assert codes(world) == issued + 1
