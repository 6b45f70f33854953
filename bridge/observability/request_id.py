"""One id per HTTP request: in every log line it causes, on the upstream calls it makes, on its audit rows.

A caller's X-Request-ID is kept when it is well formed (a load balancer's or a relying app's id then
joins the logs up); anything else is replaced by a fresh one, so a header cannot forge or break a
log line. The id lives in a context variable: the worker threads (bridge/blocking.py) copy the
context, so the use cases a route runs in a thread see it too.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
# Letters, digits and a few separators, at most 64: UUIDs, ULIDs, hex ids and ours fit.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,64}")

_current: ContextVar[str | None] = ContextVar("bridge_request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def accepted_or_new(value: str | None) -> str:
    if value is not None and _WELL_FORMED.fullmatch(value):
        return value
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """Sets the request's id for everything under it, and answers with it in X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == _HEADER_KEY), None)
        request_id = accepted_or_new(sent.decode("latin-1") if sent is not None else None)
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_HEADER_KEY, request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)


async def send_request_id(request: httpx.Request) -> None:
    """httpx event hook: the upstream provider's logs can be matched with ours."""
    request_id = current_request_id()
    if request_id is not None and HEADER not in request.headers:
        request.headers[HEADER] = request_id
