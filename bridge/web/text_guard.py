"""No NUL character reaches a route: refused at the edge, once, for every route.

PostgreSQL refuses a NUL byte in any text parameter of a query (psycopg raises DataError): a path
parameter, a query-string parameter or a form field that reached a query with one gave a 500, one
field after another (a staff login in a path, the audit viewer's filters, a block reason...). No
text the bridge keeps or looks up may hold one, so the request is refused before any route runs:
the 400 page «В запросе недопустимые символы» for pages, `invalid_request` as JSON for the
provider's endpoints and scripts, the provider's own error page at /oidc/authorize (whose
redirect_uri cannot be trusted to send an error back to).

Only NUL is refused. Other control characters (a tab, a newline) are legitimate in free text
(an address, a comment) and every database stores them.

Checked: the decoded path, the query string, every header value (a server lets none with a raw
NUL through, but an ASGI one might), and the text fields and file names of a form body —
url-encoded or multipart; a file's bytes are not text parameters and are left alone (the staff
import spreadsheet: its importer refuses a cell holding a NUL).
The body is read into memory only for a form (the CSRF check does the same, within the same limit),
and parsed only when its bytes could hold a NUL at all: a plain `bytes in` scan otherwise.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.web.csrf import UNSAFE_METHODS, buffered_body, replay
from bridge.web.urls import path_for

NUL = "\x00"
TITLE = "Запрос не понят"
MESSAGE = "В запросе недопустимые символы. Вернитесь назад, исправьте введённый текст и повторите."
# bridge/op/error_messages.py's text for invalid_request (bridge.web may not import bridge.op).
AUTHORIZE_MESSAGE = "Приложение прислало неполный или неверный запрос на вход."
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def query_has_nul(query_string: bytes) -> bool:
    """Whether any name or value of this query string decodes to text with a NUL in it."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return False
    # Starlette's own reading (QueryParams): `%2500` is the text "%00", not a NUL.
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return any(NUL in name or NUL in value for name, value in pairs)


def form_has_nul(form: FormData) -> bool:
    """Whether any field name, text value or file name holds a NUL; a file's content is not looked at."""
    return any(
        NUL in name or NUL in (value if isinstance(value, str) else value.filename or "")
        for name, value in form.multi_items()
    )


def _form_kind(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
            for kind in (URLENCODED, MULTIPART):
                if content_type.startswith(kind):
                    return kind
            return None
    return None


def _could_hold_nul(kind: str, body: bytes) -> bool:
    # A multipart field is sent as raw bytes: only a raw NUL decodes to one (`%00` stays text there).
    return b"\x00" in body or (kind == URLENCODED and b"%00" in body)


class TextGuardMiddleware:
    """Refuses a request with a NUL character in its path, query string, headers or form fields.

    Runs inside BrowserIdMiddleware (its pages carry the browser's CSRF token) and before
    CSRFMiddleware and every route: the OAuth endpoints exempt from the CSRF check included.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (
            NUL in scope["path"]
            or query_has_nul(scope["query_string"])
            or any(b"\x00" in value for _, value in scope["headers"])
        ):
            await refusal(Request(scope))(scope, receive, send)
            return
        kind = _form_kind(scope) if scope["method"] in UNSAFE_METHODS else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        body = await buffered_body(request, scope, receive, send)
        if body is None:
            return
        if _could_hold_nul(kind, body):
            replayed = Request(scope, replay(body, receive))
            try:
                form = await replayed.form()
            except HTTPException:
                form = None  # malformed: the route's (or the CSRF check's) own reading refuses it
            if form is not None:
                poisoned = form_has_nul(form)
                await form.close()
                if poisoned:
                    await refusal(request)(scope, receive, send)
                    return
        await self.app(scope, replay(body, receive), send)


def refusal(request: Request) -> Response:
    """400: the provider's error page at /oidc/authorize, JSON for machines, the error page for people."""
    # Imported here, as in bridge/web/csrf.py: templating imports csrf, and errors imports templating.
    from bridge.web.errors import wants_json
    from bridge.web.templating import render

    path = request.url.path
    if path == path_for(request, "oidc_authorize"):
        context = {"message": AUTHORIZE_MESSAGE, "error_code": "invalid_request"}
        return render(request, "provider/authorize_error.html", context, status_code=400)
    if wants_json(request) or request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse(
            {"error": "invalid_request", "error_description": "The request holds a NUL character.", "message": MESSAGE},
            status_code=400,
        )
    return render(request, "error.html", {"title": TITLE, "message": MESSAGE}, status_code=400)
