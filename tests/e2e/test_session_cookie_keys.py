"""The database holds no value that works as a sign-in cookie: rows are keyed by the token's HMAC."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from bridge.storage.models import SignInSession
from bridge.web.cookies import cookie_name
from tests.e2e.world import BRIDGE, World, enter_password, sign_in_through

pytestmark = pytest.mark.anyio

KUZNETSOV = "a.kuznetsov@school1535.ru"


def cookie_value(world: World, value: str) -> str:
    return URLSafeSerializer(str(world.settings.secret_key), salt="bridge.signin-session").dumps(value)


async def test_a_session_id_read_from_the_database_signs_nobody_in(world: World) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    name = cookie_name(world.settings, "bridge_sid")
    async with world.browser() as browser:
        await enter_password(browser, await sign_in_through(browser, "РСАА", KUZNETSOV), login)
        token = URLSafeSerializer(str(world.settings.secret_key), salt="bridge.signin-session").loads(
            browser.cookies[name]
        )
        assert (await browser.get(f"{BRIDGE}/login/role", follow_redirects=False)).status_code == 200
    with world.db() as db:
        ids = list(db.scalars(select(SignInSession.id)))
    assert len(ids) == 1 and token not in ids

    # Someone with a copy of the table (a backup, a dump) and even the secret key to sign cookies.
    async with world.browser() as thief:
        thief.cookies.set(name, cookie_value(world, ids[0]), domain="bridge.test")
        page = await thief.get(f"{BRIDGE}/login/role", follow_redirects=False)
    assert page.status_code in (302, 303) and "/login" in page.headers["location"]
