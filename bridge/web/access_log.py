"""The bridge's access line: method, path, a scrubbed query, status and duration.

uvicorn's own access log writes whole query strings, and the bridge's carry upstream codes and
states, relying apps' `id_token_hint` and `login_hint`, and `next` URLs that hold a relying app's
state and nonce. Entry points switch uvicorn's access log off; this line replaces it.

The query is scrubbed by an allowlist, so a parameter added tomorrow is hidden until someone
decides it is harmless: only the values named in `_SHOWN` are written, URL-valued ones without
their own query; every other value becomes "…". Control characters are escaped, so a request
cannot forge a log line.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote, unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("bridge.access")

REDACTED = "…"

# Values that tell an operator what happened and that nobody can replay or use to find a person.
_SHOWN = frozenset(
    {
        "client_id", "response_type", "response_mode", "scope", "prompt", "max_age", "display",
        "ui_locales", "acr_values", "code_challenge_method", "grant_type", "error", "iss", "provider",
        "reauth", "redirect_uri", "post_logout_redirect_uri", "next",
    }
)
# URLs: written without their query and fragment (`next` carries a relying app's state and nonce).
_URL_VALUED = frozenset({"redirect_uri", "post_logout_redirect_uri", "next"})


def scrub_query(query: str) -> str:
    """The query as sent, with every value outside the allowlist replaced by "…"."""
    return "&".join(_scrub_pair(pair) for pair in query.split("&"))


def _scrub_pair(pair: str) -> str:
    if not pair:
        return pair
    raw_name, has_value, raw_value = pair.partition("=")
    name = unquote_plus(raw_name)
    if name not in _SHOWN:
        return f"{raw_name}={REDACTED}" if has_value else REDACTED
    if not has_value or name not in _URL_VALUED:
        return pair
    url = unquote_plus(raw_value)
    base = url.split("#", 1)[0].split("?", 1)[0]
    hidden = REDACTED if len(base) < len(url) else ""
    return f"{raw_name}={quote(base, safe='/:@')}{'?' + hidden if hidden else ''}"


def escape_controls(text: str) -> str:
    """Backslash escapes for anything that is not printable, so one request is one log line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def request_line(scope: Scope) -> str:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else quote(str(scope.get("path", "")))
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    target = f"{path}?{scrub_query(query)}" if query else path
    return escape_controls(f"{scope.get('method', '-')} {target} HTTP/{scope.get('http_version', '1.1')}")


class AccessLogMiddleware:
    """One INFO line on `bridge.access` per HTTP request, written when the response is done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started ends as a 500 further out

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                peer = f"{client[0]}:{client[1]}" if client else "-"
                elapsed = (time.perf_counter() - started) * 1000
                write_line('%s - "%s" %d %.1fms', escape_controls(peer), request_line(scope), status, elapsed)


def write_line(message: str, *arguments: object) -> None:
    """`logger.info` without its search of the stack for the caller's file and line, which no format
    of ours shows and which every request would pay for."""
    logger.handle(logger.makeRecord(logger.name, logging.INFO, "(access)", 0, message, arguments, None))
