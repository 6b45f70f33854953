"""The OP's protocol hardening seen through the real apps: a relying app signing a person in
through the mock providers, with every response of the bridge inspected on the way."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.responses import Response

from bridge.config import Settings
from bridge.services.roles import Role
from bridge.web.cookies import cookie_name
from bridge.web.signin_cookie import set_signin_cookie
from tests.e2e.test_relying_app import APP, KUZNETSOV, relying_browser
from tests.e2e.world import BRIDGE, World, enter_password, past_profile, sign_in_at_provider
from tests.support.html_forms import read_forms

pytestmark = pytest.mark.anyio


def _bridge_responses(page: httpx.Response) -> list[httpx.Response]:
    return [response for response in [*page.history, page] if response.url.host == "bridge.test"]


def _claims_shown(page: httpx.Response) -> dict[str, object]:
    shown = page.text.split("<pre>", 1)[1].split("</pre>", 1)[0]
    claims: dict[str, object] = json.loads(shown.replace("&#34;", '"').replace("&quot;", '"'))
    return claims


async def test_an_app_sign_in_over_https_uses_host_cookies_hsts_and_rfc8176_amr(world: World) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич", roles=(Role.SCHOOL_DIRECTOR,))
    async with relying_browser(world) as browser:
        bridge_login = await browser.get(f"{APP}/login")
        start = next(form for form in read_forms(bridge_login.text) if "/login/start" in form.action)
        at_provider = await browser.post(f"{BRIDGE}/login/start", data=start.submission("РСАА"))
        bind_page = await sign_in_at_provider(browser, at_provider, KUZNETSOV)
        profile = await enter_password(browser, bind_page, login, through_profile=False)
        at_app = await past_profile(browser, profile)
        assert at_app.url.host == "app.test", at_app.text[:300]

        bridge_answers = [*_bridge_responses(bridge_login), *_bridge_responses(at_provider),
                          *_bridge_responses(profile), *_bridge_responses(at_app)]
        assert bridge_answers
        for response in bridge_answers:
            assert response.headers["strict-transport-security"] == "max-age=31536000", response.url

        set_cookies = [header for response in bridge_answers for header in response.headers.get_list("set-cookie")]
        signin = [header for header in set_cookies if "bridge_sid=" in header]
        assert len(signin) == 1
        attributes = [part.strip().lower() for part in signin[0].split(";")]
        assert signin[0].startswith("__Host-bridge_sid=")
        assert {"secure", "httponly", "path=/", "samesite=lax"} <= set(attributes)
        assert not any(attribute.startswith("domain") for attribute in attributes)

        # РСАА said amr ["password"]: the app reads RFC 8176's "pwd", and the provider apart.
        claims = _claims_shown(at_app)
        assert claims["amr"] == ["pwd"] and claims["idp"] == "rsaa"


async def test_plain_http_demo_keeps_plain_cookie_names_and_no_hsts(world: World) -> None:
    http_settings = Settings(**{**world.settings.__dict__, "public_url": "http://127.0.0.1:8000"})
    assert cookie_name(http_settings, "bridge_sid") == "bridge_sid"
    assert cookie_name(world.settings, "bridge_sid") == "__Host-bridge_sid"
    response = Response()
    set_signin_cookie(response, http_settings, "session-id", remember=True)
    header = response.headers["set-cookie"]
    assert header.startswith("bridge_sid=") and "secure" not in header.lower()

    from bridge.app import create_app

    app = create_app(http_settings, runtime=world.runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        assert "strict-transport-security" not in (await http.get("/login")).headers
    async with world.browser() as browser:
        assert (await browser.get(f"{BRIDGE}/login")).headers["strict-transport-security"] == "max-age=31536000"
