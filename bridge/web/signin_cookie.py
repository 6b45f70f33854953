"""The sign-in session cookie: a signed random token, persistent only with "Запомнить меня".

The session's row is keyed by the token's HMAC (bridge.services.signin_sessions.SessionKeys):
reading the cookie gives that key, and the token itself is kept nowhere on the server.

Named `__Host-bridge_sid` over https (Secure, HttpOnly, Path=/, SameSite=Lax, no Domain), plain
`bridge_sid` on the http demo.
"""

from __future__ import annotations

import functools

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from bridge.config import Settings
from bridge.services.signin_sessions import SessionKeys
from bridge.web.cookies import cookie_name

COOKIE_BASE = "bridge_sid"


def signin_cookie_name(settings: Settings) -> str:
    return cookie_name(settings, COOKIE_BASE)


def _serializer(settings: Settings) -> URLSafeSerializer:
    return _serializer_for(str(settings.secret_key))


@functools.lru_cache(maxsize=4)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    # Built once per key: the cookie is read at every request of a signed-in browser.
    return URLSafeSerializer(secret_key, salt="bridge.signin-session")


@functools.lru_cache(maxsize=4)
def _session_keys(secret_key: str) -> SessionKeys:
    return SessionKeys.of(secret_key)


def read_signin_session_id(request: Request, settings: Settings) -> str | None:
    """The id of the session row this browser's cookie names (not yet judged alive), or None."""
    raw = request.cookies.get(signin_cookie_name(settings))
    if not raw:
        return None
    try:
        value = _serializer(settings).loads(raw)
    except BadSignature:
        return None
    return _session_keys(str(settings.secret_key)).id_of(value) if isinstance(value, str) else None


def set_signin_cookie(
    response: Response, settings: Settings, cookie_token: str, *, remember: bool
) -> None:
    response.set_cookie(
        signin_cookie_name(settings),
        _serializer(settings).dumps(cookie_token),
        # Without "remember me" the cookie is a browser-session cookie: gone with the browser.
        max_age=int(settings.remember_me_ttl.total_seconds()) if remember else None,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


def clear_signin_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        signin_cookie_name(settings), httponly=True, secure=settings.secure_cookies, samesite="lax", path="/"
    )
