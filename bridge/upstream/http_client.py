"""The HTTP client the bridge calls upstream providers with: one per process, keeping no cookies.

Every person's token, userinfo and person-data requests go through the same client. httpx's
default keeps whatever cookies an upstream sets and sends them with the next request, whoever it
is for; nothing of one person's exchange should ride along on another's. Not storing them also
spares the event loop the cookie jar's work on every upstream answer (about 40 µs each: two
adapter objects and a `http.cookiejar` pass, for answers that set no cookie at all).
"""

from __future__ import annotations

from typing import Any

import httpx


class _NoCookies(httpx.Cookies):
    """A jar that stays empty: an upstream's Set-Cookie is ignored."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    """`httpx.AsyncClient` whose `cookies` is always an empty jar: nothing is kept between requests."""

    def __init__(self, **options: Any) -> None:
        self._no_cookies = _NoCookies()
        super().__init__(**options)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        # Cookies for upstream requests are never configured: an assignment changes nothing.
        return


def upstream_client(timeout_seconds: float, **options: Any) -> UpstreamClient:
    """The client for upstream providers: redirects are not followed (each hop is checked by us)."""
    return UpstreamClient(timeout=httpx.Timeout(timeout_seconds), follow_redirects=False, **options)
