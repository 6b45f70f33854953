"""A NUL byte in what an upstream provider answers (names, e-mail, `sub`, `acr`, organisation) is a
malformed answer: refused with the calm «Ответ … не прошёл проверку» page and audited without the value,
never a 500 (PostgreSQL refuses a NUL in any text parameter) and never stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bridge.storage.models import AuditEvent
from tests.e2e.world import World, enter_password, sign_in_through

COOKIE_NAME = "__Host-bridge_sid"
REFUSED_TITLE = "Вход не выполнен"
REJECTED = "не прошёл проверку безопасности"

SMIRNOVA = ("esia", "Госуслуги", "e.smirnova@school1535.ru", "1005515483", "Смирнова", "Елена")
KUZNETSOV = ("rsaa", "РСАА", "a.kuznetsov@school1535.ru", "1006233404", "Кузнецов", "Андрей")

MOBILES = {"1005515483": "+7(916)1234501", "1006233404": "+7(916)2345602"}

# What the provider answers with a NUL inside, as a change to the mock's person.
FIRST_SIGN_IN = [
    pytest.param(SMIRNOVA, {"last_name": "Смир\x00нова"}, id="esia-surname"),
    pytest.param(KUZNETSOV, {"first_name": "Анд\x00рей"}, id="rsaa-name"),
    pytest.param(KUZNETSOV, {"email": "a.kuznetsov\x00@school1535.ru"}, id="rsaa-email"),
    pytest.param(KUZNETSOV, {"middle_name": "Никола\x00евич"}, id="rsaa-patronymic"),
    pytest.param(KUZNETSOV, {"rsaa": {"sub": "rsaa-\x00-1006233404"}}, id="rsaa-sub"),
]
RETURNING = [
    pytest.param(SMIRNOVA, {"first_name": "Еле\x00на"}, id="esia-name"),
    pytest.param(KUZNETSOV, {"rsaa": {"acr": "1\x00"}}, id="rsaa-acr"),
]

pytestmark = pytest.mark.anyio


def audit(world: World, event: str) -> list[dict[str, Any]]:
    with world.db() as db:
        return [row.details for row in db.scalars(select(AuditEvent).where(AuditEvent.event == event))]


async def answer_with(world: World, oid: str, change: dict[str, Any]) -> None:
    await world.tester("/_mock/persons", {"oid": oid, **change})


def assert_refused_as_malformed(world: World, page: Any, browser: Any, provider: str) -> None:
    assert page.status_code == 502, (page.status_code, page.text[:300])
    assert REFUSED_TITLE in page.text and REJECTED in page.text
    assert COOKIE_NAME not in browser.cookies
    [failure] = audit(world, "upstream.failed")
    assert failure["provider"] == provider and failure["reason"] == "upstream_rejected"
    assert "NUL" in failure["detail"] and "\x00" not in str(failure)


@pytest.mark.parametrize(("person", "change"), FIRST_SIGN_IN)
async def test_a_nul_in_a_first_sign_in_answer_is_refused_as_malformed(
    world: World, person: tuple[str, ...], change: dict[str, Any]
) -> None:
    provider, title, _email, oid, surname, name = person
    world.add_staff(surname=surname, name=name)
    await answer_with(world, oid, change)
    async with world.browser() as browser:
        # Signed in at the provider by mobile: the e-mail itself may be the changed value.
        page = await sign_in_through(browser, title, MOBILES[oid])
        assert_refused_as_malformed(world, page, browser, provider)
    assert world.bindings() == []


@pytest.mark.parametrize(("person", "change"), RETURNING)
async def test_a_nul_in_a_returning_sign_in_answer_is_refused_as_malformed(
    world: World, person: tuple[str, ...], change: dict[str, Any]
) -> None:
    provider, title, email, oid, surname, name = person
    login = world.add_staff(surname=surname, name=name)
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, title, email)
        assert (await enter_password(browser, bind_page, login)).url.path == "/account"
    signed_in = len(audit(world, "signin.success"))

    await answer_with(world, oid, change)
    async with world.browser() as browser:
        page = await sign_in_through(browser, title, email)
        assert_refused_as_malformed(world, page, browser, provider)
    assert len(audit(world, "signin.success")) == signed_in
