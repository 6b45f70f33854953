"""CSRF protection for the bridge's pages: on by default for every unsafe request.

The token is an HMAC of the browser's opaque id under the bridge's secret key: a page from another
site can neither read the flow cookie nor compute the token, and the server keeps nothing extra.
`render` puts it into every page (`{{ csrf_token }}`); forms send it back as the `csrf_token`
field, scripts as the `X-CSRF-Token` header.

`CSRFMiddleware` checks it on every POST, PUT, PATCH and DELETE before any route runs, so a new
form is protected without anyone remembering to. It lets a request through unchecked only when the
route that will answer it is named in the `exempt` set the application passes (`bridge/app.py`):
OAuth endpoints whose callers prove themselves otherwise and that act on no cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.web.browser import browser_id

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A checked request's body is read here before the route reads it again, so it is held in memory:
# the bridge's forms are a few hundred bytes, and this is also Starlette's limit on one form field.
MAX_BODY_BYTES = 1024 * 1024

STALE_FORM_TITLE = "Форма устарела"
STALE_FORM_MESSAGE = "Страница устарела. Обновите её и повторите действие."


def _expected(request: Request) -> str:
    secret = str(request.app.state.settings.secret_key).encode()
    return hmac.new(secret, b"csrf|" + browser_id(request).encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    return _expected(request)


def csrf_valid(request: Request, submitted: object) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(_expected(request).encode(), submitted.encode())


def matched_route(routes: Sequence[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route the router will run for this request (its first full match), or None (404/405)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


class CSRFMiddleware:
    """Refuses an unsafe request without this browser's token, unless its route is exempt by name.

    Must run inside BrowserIdMiddleware (the token is bound to the browser id it reads).
    """

    def __init__(self, app: ASGIApp, *, exempt: Collection[str]) -> None:
        self.app = app
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        route = matched_route(scope["app"].routes, scope)
        if route is None or getattr(route, "name", None) in self.exempt:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if csrf_valid(request, request.headers.get(CSRF_HEADER)):
            await self.app(scope, receive, send)
            return
        body = await buffered_body(request, scope, receive, send)
        if body is None:
            return
        replayed = Request(scope, replay(body, receive))
        try:
            form = await replayed.form()
        except HTTPException as error:
            # A malformed or oversized form: the 400 page the route's own request.form() would give.
            await (await _http_error(request, error))(scope, receive, send)
            return
        submitted = form.get(CSRF_FIELD)
        await form.close()
        if not csrf_valid(request, submitted):
            await stale_form(request)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)


async def buffered_body(request: Request, scope: Scope, receive: Receive, send: Send) -> bytes | None:
    """The whole request body read ahead of the app (to replay to it), or None when nothing is left
    to do: the client went away, or the body was too large and the 413 page has been sent."""
    try:
        body = await read_body(request, receive)
    except ClientDisconnect:
        return None
    if body is None:
        await too_large(request)(scope, receive, send)
    return body


async def read_body(request: Request, receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields the body already read, then whatever the client sends next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    content_type = request.headers.get("content-type", "")
    return content_type.startswith("application/json") or ("application/json" in accept and "text/html" not in accept)


def stale_form(request: Request) -> Response:
    """The refusal: «Форма устарела» (403), with a link to the form's page when there is one."""
    get = {**request.scope, "method": "GET"}
    retry_url = request.url.path if matched_route(request.app.routes, get) is not None else None
    return _refusal(request, 403, "csrf_failed", STALE_FORM_TITLE, STALE_FORM_MESSAGE, retry_url)


def too_large(request: Request) -> Response:
    return _refusal(request, 413, "request_too_large", "Слишком большой запрос",
                    "Форма слишком велика. Сократите введённый текст и повторите.", None)


def _refusal(request: Request, status: int, code: str, title: str, message: str, retry_url: str | None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": code, "message": message}, status_code=status)
    # Imported here: templating imports this module for csrf_token.
    from bridge.web.templating import render

    context = {"title": title, "message": message, "retry_url": retry_url}
    return render(request, "error.html", context, status_code=status)


async def _http_error(request: Request, error: HTTPException) -> Response:
    from bridge.web.errors import http_error  # here for the same reason as render above

    return await http_error(request, error)
