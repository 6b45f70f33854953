"""A relying app signs a staff member in through the bridge: the whole product in-process."""

from __future__ import annotations

import httpx
import pytest

from bridge.services.clients import register_client
from bridge.services.roles import Role
from bridge_demo.relying_app import create_relying_app
from tests.e2e.world import BRIDGE, IDP, World, enter_password, sign_in_at_provider
from tests.support.html_forms import read_forms

APP = "https://app.test"
KUZNETSOV = "a.kuznetsov@school1535.ru"

pytestmark = pytest.mark.anyio


def relying_browser(world: World) -> httpx.AsyncClient:
    with world.db() as db, db.begin():
        registered = register_client(
            db,
            world.settings.secret_key,
            name="ИС Контингент",
            client_id="kontingent",
            redirect_uris=[f"{APP}/callback"],
            post_logout_redirect_uris=[f"{APP}/logged-out"],
            scope="openid profile email roles",
        )
    assert registered.client_secret is not None
    to_bridge = httpx.AsyncClient(transport=httpx.ASGITransport(app=world.bridge), base_url=BRIDGE)
    app = create_relying_app(
        issuer=BRIDGE,
        client_id="kontingent",
        client_secret=registered.client_secret,
        redirect_uri=f"{APP}/callback",
        http=to_bridge,
        secret_key="relying-app-test-secret",
    )
    return httpx.AsyncClient(
        mounts={
            BRIDGE: httpx.ASGITransport(app=world.bridge),
            IDP: httpx.ASGITransport(app=world.mock),
            APP: httpx.ASGITransport(app=app),
        },
        follow_redirects=True,
        timeout=30,
    )


async def test_app_gets_the_role_and_organization_chosen_at_first_sign_in(world: World) -> None:
    login = world.add_staff(
        surname="Кузнецов", name="Андрей", patronymic="Николаевич", roles=(Role.SCHOOL_DIRECTOR, Role.SCHOOL_DEPUTY)
    )
    async with relying_browser(world) as browser:
        bridge_login = await browser.get(f"{APP}/login")
        assert bridge_login.url.host == "bridge.test" and bridge_login.url.path == "/login"
        start = next(form for form in read_forms(bridge_login.text) if "/login/start" in form.action)
        at_provider = await browser.post(f"{BRIDGE}/login/start", data=start.submission("РСАА"))
        bind_page = await sign_in_at_provider(browser, at_provider, KUZNETSOV)
        role_page = await enter_password(browser, bind_page, login)
        assert role_page.url.path == "/login/role"
        assert "руководитель" in role_page.text and "сотрудник" in role_page.text

        choice = next(form for form in read_forms(role_page.text) if "/login/role" in form.action)
        deputy = choice.button("Завуч школы")
        at_app = await browser.post(f"{BRIDGE}/login/role", data={**choice.fields, "role_id": deputy.value})
        assert at_app.url.host == "app.test"
        assert "Кузнецов Андрей" in at_app.text
        assert "Завуч школы" in at_app.text and "Директор школы" not in at_app.text.split("Утверждения")[0]
        assert "urn:edu-bridge:idp:rsaa" in at_app.text
        assert [provider for _, provider, _ in world.bindings()] == ["rsaa"]


async def test_the_role_page_answers_the_app_itself_and_once(world: World) -> None:
    login = world.add_staff(
        surname="Кузнецов", name="Андрей", patronymic="Николаевич", roles=(Role.SCHOOL_DIRECTOR, Role.SCHOOL_DEPUTY)
    )
    async with relying_browser(world) as browser:
        bridge_login = await browser.get(f"{APP}/login")
        start = next(form for form in read_forms(bridge_login.text) if "/login/start" in form.action)
        at_provider = await browser.post(f"{BRIDGE}/login/start", data=start.submission("РСАА"))
        role_page = await enter_password(browser, await sign_in_at_provider(browser, at_provider, KUZNETSOV), login)
        choice = next(form for form in read_forms(role_page.text) if "/login/role" in form.action)
        submission = {**choice.fields, "role_id": choice.button("Завуч школы").value}

        at_app = await browser.post(f"{BRIDGE}/login/role", data=submission)
        # The POST's own answer is the redirect to the app with the code: no second pass through
        # the authorization endpoint.
        [answer] = [hop for hop in at_app.history if hop.request.url.path == "/login/role"]
        assert answer.status_code == 303
        assert answer.headers["location"].startswith(f"{APP}/callback?code=")
        assert [hop.request.url.path for hop in at_app.history] == ["/login/role", "/callback"]
        assert "Завуч школы" in at_app.text

        # The same POST again (a refresh): the parked request is gone, no second code.
        again = await browser.post(f"{BRIDGE}/login/role", data=submission, follow_redirects=False)
        assert again.status_code == 303
        assert "code=" not in again.headers["location"]
