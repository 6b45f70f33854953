"""The password throttle as a stranger meets it: whose budget a guess spends, and whose it does not.

A stranger guessing a login exhausts only their own budget (that login from their address, and their
address); the owner at their own address keeps theirs. A sprayer at many addresses slows the login
down, by a bounded delay per address that cannot spend the owner's turn. Behind a reverse proxy the
budgets follow the real client, and only a trusted proxy can say who that is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from bridge.config import Settings
from bridge.storage.models import AuditEvent
from bridge.storage.types import utcnow
from tests.e2e.world import BRIDGE, PASSWORD, Keys, World, build_world, enter_password

REFUSED_PASSWORD = "Неверный логин или пароль"
THROTTLED = "Слишком много неудачных попыток ввода пароля"
WRONG_PASSWORD = "Not-The-Password-1"
STRANGER = "203.0.113.66"
OWNER = "198.51.100.9"
PROXY = "10.0.0.2"

pytestmark = pytest.mark.anyio


async def attempt(browser: httpx.AsyncClient, login: str, password: str = WRONG_PASSWORD) -> httpx.Response:
    return await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login, password)


def accepted(page: httpx.Response) -> bool:
    return page.url.path == "/login/first/provider"


def events(world: World, event: str) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


class Clock:
    """The throttle's clock, moved forward by the test (nothing else sees it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        monkeypatch.setattr("bridge.services.throttle.utcnow", lambda: self.now)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


# --- a stranger cannot lock the owner out ---------------------------------------------------------


async def test_a_stranger_spends_only_their_own_budget_and_the_refusal_is_calm(world: World) -> None:
    login = world.add_staff()
    async with world.browser(STRANGER) as stranger:
        for _ in range(5):
            assert REFUSED_PASSWORD in (await attempt(stranger, login)).text
        refused = await attempt(stranger, login, PASSWORD)  # even the right password waits now
        assert refused.status_code == 400 and THROTTLED in refused.text
        assert "Повторите через 15 мин." in refused.text
        assert "Госуслуги или РСАА" in refused.text and "Traceback" not in refused.text
    async with world.browser(OWNER) as owner:
        assert accepted(await attempt(owner, login, PASSWORD))

    [throttled] = events(world, "signin.throttled")
    assert throttled.address == STRANGER and throttled.outcome == "refused"
    # The request's id joins the record to the log lines of the refused attempt.
    assert throttled.details == {"login": login, "key": "login_address", "request_id": throttled.details["request_id"]}
    assert len(throttled.details["request_id"]) == 32
    for event in events(world, "signin.throttled") + events(world, "signin.password_refused"):
        assert PASSWORD not in str(event.details) and WRONG_PASSWORD not in str(event.details)


async def test_the_owners_success_gives_the_address_its_attempt_back(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    # A school behind one address: ten first sign-ins there must not eat the address's budget.
    world = build_world(replace(settings, address_throttle_max_failures=3), engine, keys)
    logins = [world.add_staff() for _ in range(10)]
    async with world.browser() as browser:
        for login in logins:
            assert accepted(await attempt(browser, login, PASSWORD))
        for _ in range(3):
            assert REFUSED_PASSWORD in (await attempt(browser, logins[0])).text
        page = await attempt(browser, logins[1], PASSWORD)
        assert THROTTLED in page.text
    assert [event.details["key"] for event in events(world, "signin.throttled")] == ["address"]


async def test_a_stranger_cannot_renew_a_lock_on_the_owner_forever(
    settings: Settings, engine: Engine, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sprayer at many addresses: the login slows down (bounded), the owner still gets in."""
    world = build_world(replace(settings, login_backoff_after=20), engine, keys)
    clock = Clock(monkeypatch)
    login = world.add_staff()
    sprayers = [f"192.0.2.{number}" for number in range(1, 6)]
    for address in sprayers:  # 5 addresses x 4 guesses: the login's 20 failures from everywhere
        async with world.browser(address) as sprayer:
            for _ in range(4):
                assert REFUSED_PASSWORD in (await attempt(sprayer, login)).text

    # Backoff: each address now waits 1 minute after its previous attempt, doubling per failure.
    async with world.browser(sprayers[0]) as sprayer:
        assert THROTTLED in (await attempt(sprayer, login)).text
        clock.advance(timedelta(minutes=1))
        assert REFUSED_PASSWORD in (await attempt(sprayer, login)).text  # failure 21: the next waits 2 min
    async with world.browser(sprayers[1]) as sprayer:
        assert "Повторите через 1 мин." in (await attempt(sprayer, login)).text
    assert [event.details["key"] for event in events(world, "signin.throttled")] == ["login_backoff"] * 2

    # The sprayer keeps the login busy from every address, as often as it is let, pausing for a
    # whole window now and then...
    for _ in range(6):
        clock.advance(timedelta(minutes=16))
        for address in sprayers:
            async with world.browser(address) as sprayer:
                assert REFUSED_PASSWORD in (await attempt(sprayer, login)).text
    async with world.browser(sprayers[2]) as sprayer:
        assert "Повторите через 15 мин." in (await attempt(sprayer, login)).text
    # ... and yet the delay stays capped, and the owner's first attempt from their address is not delayed.
    async with world.browser(OWNER) as owner:
        assert accepted(await attempt(owner, login, PASSWORD))
    # The owner's success ends the backoff for everyone.
    async with world.browser(sprayers[1]) as sprayer:
        assert REFUSED_PASSWORD in (await attempt(sprayer, login)).text


async def test_the_backoff_delay_is_capped(
    settings: Settings, engine: Engine, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(replace(settings, login_backoff_after=1, login_throttle_max_failures=50), engine, keys)
    clock = Clock(monkeypatch)
    login = world.add_staff()
    async with world.browser(STRANGER) as stranger:
        for _ in range(12):  # delays 1, 2, 4, 8, then 15 minutes (the cap) for ever
            assert REFUSED_PASSWORD in (await attempt(stranger, login)).text
            clock.advance(timedelta(minutes=15))
        clock.advance(timedelta(minutes=-1))
        assert "Повторите через 1 мин." in (await attempt(stranger, login, PASSWORD)).text
        clock.advance(timedelta(minutes=1))
        assert accepted(await attempt(stranger, login, PASSWORD))


async def test_an_absurd_login_is_refused_like_any_other(world: World) -> None:
    for login in ("x" * 5000, "ivanov|203.0.113.66", "%_' OR 1=1 --", ""):
        async with world.browser(STRANGER) as stranger:
            page = await attempt(stranger, login)
            assert page.status_code == 400 and REFUSED_PASSWORD in page.text


async def test_ipv6_neighbours_in_one_64_share_the_address_budget(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, address_throttle_max_failures=4), engine, keys)
    login = world.add_staff()
    for host in range(1, 5):
        async with world.browser(f"2001:db8:1:2::{host}") as neighbour:
            assert REFUSED_PASSWORD in (await attempt(neighbour, world.add_staff())).text
    async with world.browser("2001:db8:1:2:ffff::1") as neighbour:
        assert THROTTLED in (await attempt(neighbour, login, PASSWORD)).text
    async with world.browser("2001:db8:1:3::1") as elsewhere:
        assert accepted(await attempt(elsewhere, login, PASSWORD))


# --- the client address behind a reverse proxy ------------------------------------------------------


def trusting(settings: Settings, engine: Engine, keys: Keys, **changes: Any) -> World:
    return build_world(replace(settings, trusted_proxies=(ip_network("10.0.0.0/24"),), **changes), engine, keys)


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = trusting(settings, engine, keys)
    login = world.add_staff()
    for number in range(5):
        spoof = {"X-Forwarded-For": f"198.51.100.{number}", "Forwarded": f"for=198.51.100.{number}"}
        async with world.browser(STRANGER, headers=spoof) as stranger:
            assert REFUSED_PASSWORD in (await attempt(stranger, login)).text
    async with world.browser(STRANGER, headers={"X-Forwarded-For": OWNER}) as stranger:
        assert THROTTLED in (await attempt(stranger, login, PASSWORD)).text
    audited = events(world, "signin.password_refused") + events(world, "signin.throttled")
    assert {event.address for event in audited} == {STRANGER}


async def test_without_trusted_proxies_even_loopback_is_not_believed(world: World) -> None:
    login = world.add_staff()
    async with world.browser("127.0.0.1", headers={"X-Forwarded-For": OWNER}) as local:
        await attempt(local, login)
    assert [event.address for event in events(world, "signin.password_refused")] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("header", "spelled"),
    [
        # The proxy writes one header; the client forges the other one too, which is never read.
        (
            "x-forwarded-for",
            lambda forged, client: {"X-Forwarded-For": f"{forged}, {client}", "Forwarded": f"for={forged}"},
        ),
        (
            "forwarded",
            lambda forged, client: {
                "Forwarded": f'for={forged};proto=https, for="{client}:4711"', "X-Forwarded-For": forged,
            },
        ),
    ],
)
async def test_a_trusted_proxy_names_the_client_and_budgets_follow_it(
    settings: Settings, engine: Engine, keys: Keys, header: str, spelled: Any
) -> None:
    world = trusting(settings, engine, keys, proxy_header=header)
    login = world.add_staff()
    # Behind the proxy the stranger forges a left-most entry; the proxy appends the real address.
    for number in range(5):
        async with world.browser(PROXY, headers=spelled(f"198.51.100.{number}", STRANGER)) as stranger:
            assert REFUSED_PASSWORD in (await attempt(stranger, login)).text
    async with world.browser(PROXY, headers=spelled(OWNER, STRANGER)) as stranger:
        assert THROTTLED in (await attempt(stranger, login, PASSWORD)).text
    # The owner comes through the same proxy: their own address, their own budget.
    async with world.browser(PROXY, headers=spelled("192.0.2.1", OWNER)) as owner:
        assert accepted(await attempt(owner, login, PASSWORD))

    assert {event.address for event in events(world, "signin.password_refused")} == {STRANGER}
    assert [event.address for event in events(world, "signin.throttled")] == [STRANGER]
    assert [event.address for event in events(world, "signin.password_accepted")] == [OWNER]
