"""The browser's part of an РСАА sign-in, for tests that play the relying party with authlib."""

from __future__ import annotations

import httpx

from .esia_rp import PASSWORD, request_id

DISCOVERY = "/rsaa/.well-known/openid-configuration"


async def sign_in(browser: httpx.AsyncClient, authorization_url: str, login: str, password: str = PASSWORD
                  ) -> httpx.Response:
    """Follow the authorization URL, log in; the response is the provider's redirect (or a page)."""
    page = await browser.get(authorization_url)
    if page.status_code == 302:
        return page
    assert page.status_code == 200, page.text
    assert 'autocomplete="username"' in page.text
    return await browser.post("/rsaa/login", data={"request_id": request_id(page), "login": login,
                                                   "password": password})
