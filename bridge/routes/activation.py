"""The mailed activation link: `GET /activate?token=…` shows a page, `POST /activate` starts the sign-in.

The GET never spends the link — mail scanners and link previews open it before the person does —
and shows the upstream buttons; the POST (CSRF-checked like every form) parks the link's proof and
sends the browser upstream; the answer comes back to the sign-in callback, which binds
(bridge/flows/signin.py, bridge/application/activation.py). The token rides in the query of the
GET only; the bridge's access line never writes it (bridge/web/access_log.py) and every page is
served with `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application.activation import inspect_activation_link
from bridge.blocking import run_blocking
from bridge.flows.outcomes import GoUpstream, Refused
from bridge.flows.signin import SignInFlow
from bridge.routes.dependencies import signin_dependencies
from bridge.services.activation_links import LinkState
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext
from bridge.services.moscow_time import moscow_datetime
from bridge.web.browser import browser_id
from bridge.web.context import client_address, runtime_of, signed_in
from bridge.web.templating import render

# The token is 43 characters of base64url; anything much longer is not one of ours.
TOKEN_LIMIT = 100


def _token(value: object) -> str:
    return value.strip()[:TOKEN_LIMIT] if isinstance(value, str) else ""


def _dead_link(request: Request, message: str, *, status_code: int) -> Response:
    return render(request, "activation/dead.html", {"message": message}, status_code=status_code)


async def _start_page(request: Request, token: str, *, error: str | None = None, status_code: int = 200) -> Response:
    view = await run_blocking(inspect_activation_link, runtime_of(request).db, token)
    if view.state is not LinkState.USABLE:
        assert view.message is not None
        return _dead_link(request, view.message, status_code=404 if view.state is LinkState.UNKNOWN else 410)
    providers = [(provider.key, provider.title) for provider in runtime_of(request).upstream]
    expires = moscow_datetime(view.expires_at) if view.expires_at is not None else None
    context = {"token": token, "providers": providers, "expires": expires, "error": error}
    return render(request, "activation/start.html", context, status_code=status_code)


async def activation_page(request: Request) -> Response:
    return await _start_page(request, _token(request.query_params.get("token")))


async def start_activation(request: Request) -> Response:
    form = await request.form()
    active = await signed_in(request)
    flow = SignInFlow(
        signin_dependencies(request), browser_id(request),
        AuditContext(ANONYMOUS_ACTOR, client_address(request), user_agent=request.headers.get("user-agent")),
    )
    token = _token(form.get("token"))
    outcome = await flow.start_upstream(
        str(form.get("provider", "")), remember=False, next_url=None,
        # One browser, one sign-in session: whoever was signed in here is signed out by the new one.
        replaces_session=active.session.id if active is not None else None,
        activation_token=token,
    )
    if isinstance(outcome, GoUpstream):
        return RedirectResponse(outcome.url, status_code=303)
    assert isinstance(outcome, Refused)
    if outcome.code.startswith("link_") or outcome.code == "blocked":
        return _dead_link(request, outcome.message, status_code=410 if outcome.code.startswith("link_") else 403)
    # The upstream did not answer, or no such provider: the link is unspent, the buttons stay.
    status = 502 if outcome.code.startswith("upstream_") else 400
    return await _start_page(request, token, error=outcome.message, status_code=status)


routes: list[BaseRoute] = [
    Route("/activate", activation_page, methods=["GET"], name="activate"),
    Route("/activate", start_activation, methods=["POST"], name="activate_start"),
]
