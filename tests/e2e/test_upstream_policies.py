"""Upstream policies hold at every sign-in, not only at binding: a Gosuslugi account that is no longer
confirmed, or an РСАА sign-in below the provider entry's accepted `acr`, is refused later too."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import Engine, select

from bridge.config import Settings
from bridge.storage.models import AuditEvent
from tests.e2e.world import (
    BRIDGE,
    Keys,
    World,
    authorization_url,
    build_world,
    enter_password,
    mock_config,
    sign_in_through,
    upstream_registry,
)

# The sign-in cookie over https (the tests' bridge is https://bridge.test).
COOKIE_NAME = "__Host-bridge_sid"

SMIRNOVA = "e.smirnova@school1535.ru"
SMIRNOVA_OID = "1005515483"
KUZNETSOV = "a.kuznetsov@school1535.ru"
KUZNETSOV_OID = "1006233404"
REFUSED_TITLE = "Вход не выполнен"
UNCONFIRMED = "не подтверждена"
WEAK = "недостаточно надёжен"

pytestmark = pytest.mark.anyio


def refusal_reasons(world: World) -> list[str]:
    """Refusals at binding and at later sign-ins, as event:reason in order."""
    with world.db() as db:
        return [
            f"{row.event}:{row.details['reason']}"
            for row in db.scalars(
                select(AuditEvent)
                .where(AuditEvent.event.in_(("binding.refused", "signin.refused")))
                .order_by(AuditEvent.id)
            )
        ]


def sign_ins(world: World) -> list[dict[str, Any]]:
    with world.db() as db:
        return [row.details for row in db.scalars(select(AuditEvent).where(AuditEvent.event == "signin.success"))]


async def test_a_gosuslugi_account_no_longer_confirmed_is_refused_at_a_later_sign_in(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    world = build_world(replace(settings, require_confirmed_esia_account=True), engine, keys)
    login = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"

    # Gosuslugi downgrades the account to a simplified one.
    await world.tester("/_mock/persons", {"oid": SMIRNOVA_OID, "trusted": False})
    async with world.browser() as browser:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert page.status_code == 400 and REFUSED_TITLE in page.text and UNCONFIRMED in page.text
        assert COOKIE_NAME not in browser.cookies
    assert refusal_reasons(world) == ["signin.refused:unconfirmed_account"]
    assert len(sign_ins(world)) == 1

    # Confirmed again: the binding was kept and opens the account.
    await world.tester("/_mock/persons", {"oid": SMIRNOVA_OID, "trusted": True})
    async with world.browser() as browser:
        assert (await sign_in_through(browser, "Госуслуги", SMIRNOVA)).url.path == "/account"
    assert world.bindings() == [(login, "esia", SMIRNOVA_OID)]


async def test_an_rsaa_sign_in_below_the_accepted_acr_is_refused_at_binding_and_later(
    settings: Settings, engine: Engine, keys: Keys
) -> None:
    registry = upstream_registry(keys, mock_config(keys), rsaa_acr_values=("2", "3"))
    world = build_world(settings, engine, keys, upstream=registry)
    login = world.add_staff(surname="Кузнецов", name="Андрей")
    async with world.browser() as browser:
        url = await authorization_url(browser, await browser.get(f"{BRIDGE}/login"), "РСАА")
        assert dict(parse_qsl(urlsplit(url).query))["acr_values"] == "2 3"

    # The mock's persons sign in with acr "1" (a password): not enough for this entry.
    async with world.browser() as browser:
        page = await enter_password(browser, await sign_in_through(browser, "РСАА", KUZNETSOV), login)
        assert page.status_code == 400 and REFUSED_TITLE in page.text and WEAK in page.text
    assert world.bindings() == [] and refusal_reasons(world) == ["binding.refused:insufficient_acr"]

    await world.tester("/_mock/persons", {"oid": KUZNETSOV_OID, "rsaa": {"acr": "2"}})
    async with world.browser() as browser:
        page = await enter_password(browser, await sign_in_through(browser, "РСАА", KUZNETSOV), login)
        assert page.url.path == "/account", page.text[:500]
    [(_, provider, _)] = world.bindings()
    assert provider == "rsaa"

    # The level drops (or the entry is raised) after binding: the bound person is refused too.
    await world.tester("/_mock/persons", {"oid": KUZNETSOV_OID, "rsaa": {"acr": "1"}})
    async with world.browser() as browser:
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert page.status_code == 400 and WEAK in page.text
        assert COOKIE_NAME not in browser.cookies
    assert refusal_reasons(world) == ["binding.refused:insufficient_acr", "signin.refused:insufficient_acr"]
    assert len(sign_ins(world)) == 1
