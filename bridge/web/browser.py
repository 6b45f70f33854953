"""The browser's opaque id: the only thing the flow cookie carries.

Every sign-in ceremony is parked on the server under this id (bridge.services.flow_state);
the cookie holds 256 random bits and nothing else — no state, nonce, verifier or personal data.
The cookie is read, and the id minted, lazily: the first time a request needs it (most requests —
/healthz, the token endpoint, static files — never do), and a new cookie is set on that response
only. Over https the cookie takes the `__Host-` prefix: Secure, Path=/, no Domain.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.config import Settings
from bridge.web.cookies import cookie_name

FLOW_COOKIE = "bridge_flow"
_SCOPE_KEY = "bridge.browser"


class BrowserId:
    """This request's browser id: the cookie's value, or a new one minted on first use.

    `presented` is the cookie's value, or a function that reads it when the id is first asked for.
    """

    def __init__(self, presented: str | Callable[[], str | None] | None) -> None:
        self._presented = presented
        self._value: str | None = None
        self.minted = False

    @property
    def value(self) -> str:
        if self._presented is not None:
            presented = self._presented() if callable(self._presented) else self._presented
            self._presented = None
            self._value = presented if _well_formed(presented) else None
        if self._value is None:
            self._value = secrets.token_urlsafe(32)
            self.minted = True
        return self._value

    def renew(self) -> None:
        """A new id (sign-out): its cookie replaces the old one, and what was parked is out of reach."""
        self._presented = None
        self._value = secrets.token_urlsafe(32)
        self.minted = True


class BrowserIdMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.name = cookie_name(settings, FLOW_COOKIE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        browser = BrowserId(lambda: presented_cookie(scope, self.name))
        scope[_SCOPE_KEY] = browser

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and browser.minted:
                cookie = Response()
                cookie.set_cookie(
                    self.name,
                    browser.value,
                    httponly=True,
                    secure=self.settings.secure_cookies,
                    # Lax: the upstream provider's redirect back is a top-level GET and must carry it.
                    samesite="lax",
                    path="/",
                )
                headers = MutableHeaders(scope=message)
                for name, value in cookie.raw_headers:
                    if name == b"set-cookie":
                        headers.append("set-cookie", value.decode("latin-1"))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def presented_cookie(scope: Scope, name: str) -> str | None:
    """The value of cookie `name` in the request's Cookie header (the first one, as Starlette reads it)."""
    header = next((value for key, value in scope["headers"] if key == b"cookie"), None)
    return None if header is None else cookie_parser(header.decode("latin-1")).get(name)


def browser_of(connection: HTTPConnection) -> BrowserId:
    browser = connection.scope.get(_SCOPE_KEY)
    if not isinstance(browser, BrowserId):
        # An app built without the middleware (a bare test app): a throwaway id per request.
        browser = BrowserId(None)
        connection.scope[_SCOPE_KEY] = browser
    return browser


def browser_id(connection: HTTPConnection) -> str:
    return browser_of(connection).value


def _well_formed(value: str | None) -> bool:
    return value is not None and 32 <= len(value) <= 64 and all(ch.isalnum() or ch in "-_" for ch in value)
