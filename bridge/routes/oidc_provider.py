"""Routes of the OpenID Provider: read the HTTP request, call the provider in a worker thread, answer.

The issuer is Settings.public_url; every path below is relative to it.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import InvalidRequestError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import flow_steps
from bridge.blocking import run_blocking
from bridge.flows import authorization_request
from bridge.flows.outcomes import GoUpstream, PreparedUpstream, Refused
from bridge.op.authorization import error_page, sign_in_without_session
from bridge.op.outcomes import Outcome, SignInNeeded
from bridge.op.request_checks import get_target_of_post
from bridge.op.requests import StarletteOAuth2Request
from bridge.routes.dependencies import signin_dependencies
from bridge.routes.relying_app_answer import as_response, provider_of, render_page
from bridge.routes.signin import respond, signin_flow, upstream_max_age
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext
from bridge.services.signin_sessions import ActiveSignIn
from bridge.web.browser import browser_id
from bridge.web.context import client_address, runtime_of, settings_of, signed_in
from bridge.web.signin_cookie import clear_signin_cookie, read_signin_session_id
from bridge.web.templating import render

RELYING_APP_ACTOR = "relying-app"


def _audit_context(request: Request, active: ActiveSignIn | None = None, actor: str = ANONYMOUS_ACTOR) -> AuditContext:
    return AuditContext(actor=active.staff.login if active else actor, address=client_address(request))


def _public_json(data: dict[str, Any]) -> Response:
    # Public documents: any app (browser-based ones too) may read them and cache them briefly.
    return JSONResponse(
        data, headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
    )


async def discovery(request: Request) -> Response:
    return _public_json(provider_of(request).discovery())


async def jwks(request: Request) -> Response:
    return _public_json(await run_blocking(provider_of(request).jwks))


async def authorize(request: Request) -> Response:
    if request.method == "POST":
        return await _authorize_by_post(request)
    provider = provider_of(request)
    browser = browser_id(request)
    tab_id = request.query_params.get(authorization_request.TAB_PARAMETER)
    if tab_id is not None:
        # Back from our sign-in pages: the request parked for this browser and tab, taken (once).
        parked = await run_blocking(authorization_request.take, signin_dependencies(request), browser, tab_id)
        if parked is None:
            return render(request, "provider/authorize_stale.html", {}, status_code=400)
        oauth_request = StarletteOAuth2Request.parked(provider.issuer, request.url.path, request.headers, parked.params)
    else:
        oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
        tab_id = authorization_request.new_tab_id()
        parked = authorization_request.ParkedAuthorization(oauth_request.parameters(), {})
    # The provider's paths come from the route table (resolved by name once, not per request).
    return_path = f"{provider.paths.authorize}?{urlencode({authorization_request.TAB_PARAMETER: tab_id})}"
    signin_session_id = read_signin_session_id(request, settings_of(request))
    # A new request from a browser with no session, naming a configured provider: the upstream round
    # trip is prepared now and parked with the request in the decision's own transaction.
    expected = sign_in_without_session(oauth_request) if not parked.done and signin_session_id is None else None
    prepared = await _prepare_round_trip(request, expected, return_path) if expected is not None else None
    parked_with_decision: list[bool] = []

    def park_with_decision(db: Session, decided: Outcome) -> None:
        if decided.pending is None or decided.sign_in != expected or not isinstance(prepared, PreparedUpstream):
            return
        waiting = authorization_request.ParkedAuthorization(parked.params, decided.pending, parked.until)
        authorization_request.keep_with_round_trip_within(
            db, signin_dependencies(request), browser, tab_id, waiting, prepared.round_trip
        )
        parked_with_decision.append(True)

    # The browser's sign-in session is loaded in the provider's own transaction (one thread hop).
    outcome = await run_blocking(
        partial(provider.authorize, then=park_with_decision if prepared is not None else None),
        oauth_request,
        client_address(request),
        return_path=return_path,
        signin_session_id=signin_session_id,
        done=parked.done,
    )
    if parked_with_decision:
        assert isinstance(prepared, PreparedUpstream)
        return _no_store(respond(request, GoUpstream(prepared.url)))
    if outcome.pending is not None and outcome.sign_in == expected and isinstance(prepared, Refused):
        # The upstream could not be reached to start the round trip: the login page would say so too.
        return respond(request, prepared)
    if outcome.pending is not None:
        # Only a request that must wait needs the sign-in flows' dependencies (a signed-in one does not).
        steps = signin_dependencies(request)
        waiting = authorization_request.ParkedAuthorization(parked.params, outcome.pending, parked.until)
        parking = authorization_request.parking(steps, tab_id, waiting)
        if outcome.sign_in is not None and _named_provider(request, outcome.sign_in) is not None:
            return await _straight_upstream(request, outcome.sign_in, return_path, parking)
        await run_blocking(authorization_request.keep, steps, browser, tab_id, waiting)
    return as_response(request, outcome)


def _named_provider(request: Request, sign_in: SignInNeeded) -> str | None:
    """The app's idp_hint when it names a configured provider: no login page to choose on."""
    if sign_in.provider is None or runtime_of(request).upstream.get(sign_in.provider) is None:
        return None
    return sign_in.provider


def _upstream_max_age(sign_in: SignInNeeded) -> int | None:
    # Bounded as the login page bounds it (`/login?max_age=`).
    return upstream_max_age(str(sign_in.max_age)) if sign_in.max_age is not None else None


async def _prepare_round_trip(
    request: Request, sign_in: SignInNeeded, return_path: str
) -> PreparedUpstream | Refused | None:
    """The round trip a browser without a session would be sent on, if the app named a configured
    provider; the upstream's callback comes back to the parked request (`return_path`)."""
    provider_key = _named_provider(request, sign_in)
    if provider_key is None:
        return None
    return await signin_flow(request).prepare_upstream(
        provider_key, remember=False, next_url=return_path, replaces_session=sign_in.replaces_session,
        force_login=sign_in.force_login, max_age=_upstream_max_age(sign_in),
    )


async def _straight_upstream(
    request: Request, sign_in: SignInNeeded, return_path: str, parking: flow_steps.Step
) -> Response:
    """A sign-in the app named the provider of: to the upstream at once, as the login page would
    send it (prompt=login / max_age passed on), the request parked with the round trip in one
    transaction; the upstream's callback comes back to the parked request (`return_path`)."""
    assert sign_in.provider is not None
    started = await signin_flow(request).start_upstream(
        sign_in.provider,
        remember=False,
        next_url=return_path,
        replaces_session=sign_in.replaces_session,
        force_login=sign_in.force_login,
        max_age=_upstream_max_age(sign_in),
        parked_with=[parking],
    )
    return _no_store(respond(request, started))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


async def _authorize_by_post(request: Request) -> Response:
    """OIDC Core §3.1.2.1: the same request as a GET (see request_checks.get_target_of_post)."""
    provider = provider_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    target = get_target_of_post(request.url.path, oauth_request.args, oauth_request.raw_form)
    if target is None:
        page = error_page(InvalidRequestError("The authorization request is too large."))
        return render_page(request, page)
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


_TOKEN_METHODS = ["POST"]
_USERINFO_METHODS = ["GET", "POST"]


async def _preflight(request: Request, methods: list[str]) -> Response:
    return await run_blocking(
        provider_of(request).preflight,
        request.headers.get("origin"),
        request.headers.get("access-control-request-method"),
        methods,
    )


async def token(request: Request) -> Response:
    if request.method == "OPTIONS":
        return await _preflight(request, _TOKEN_METHODS)
    provider = provider_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    return await run_blocking(
        partial(provider.token, origin=request.headers.get("origin")),
        oauth_request,
        _audit_context(request, actor=RELYING_APP_ACTOR),
    )


async def userinfo(request: Request) -> Response:
    if request.method == "OPTIONS":
        return await _preflight(request, _USERINFO_METHODS)
    provider = provider_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    return await run_blocking(
        partial(provider.userinfo, origin=request.headers.get("origin")),
        oauth_request,
        _audit_context(request, actor=RELYING_APP_ACTOR),
    )


async def revoke(request: Request) -> Response:
    provider = provider_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    return await run_blocking(provider.revoke, oauth_request, _audit_context(request, actor=RELYING_APP_ACTOR))


async def introspect(request: Request) -> Response:
    provider = provider_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    return await run_blocking(
        provider.introspect, oauth_request, _audit_context(request, actor=RELYING_APP_ACTOR)
    )


async def logout(request: Request) -> Response:
    provider = provider_of(request)
    settings = settings_of(request)
    oauth_request = await StarletteOAuth2Request.read(request, provider.issuer)
    # A POST is our confirmation form, whose token CSRFMiddleware has checked.
    confirmed = request.method == "POST"
    active = await signed_in(request)
    outcome = await run_blocking(
        provider.logout,
        oauth_request,
        _audit_context(request, active),
        browser_session_id=active.session.id if active else None,
        confirmed=confirmed,
    )
    response = outcome.response
    if response is None:
        assert outcome.page is not None
        response = render_page(request, outcome.page)
    if outcome.signed_out:
        clear_signin_cookie(response, settings)
    response.headers["Cache-Control"] = "no-store"
    return response


routes: list[BaseRoute] = [
    Route("/.well-known/openid-configuration", discovery, methods=["GET"], name="oidc_discovery"),
    # RFC 8414: the same metadata for OAuth clients.
    Route("/.well-known/oauth-authorization-server", discovery, methods=["GET"], name="oauth_metadata"),
    Route("/oidc/jwks", jwks, methods=["GET"], name="oidc_jwks"),
    Route("/oidc/authorize", authorize, methods=["GET", "POST"], name="oidc_authorize"),
    Route("/oidc/token", token, methods=[*_TOKEN_METHODS, "OPTIONS"], name="oidc_token"),
    Route("/oidc/userinfo", userinfo, methods=[*_USERINFO_METHODS, "OPTIONS"], name="oidc_userinfo"),
    Route("/oidc/revoke", revoke, methods=["POST"], name="oidc_revoke"),
    Route("/oidc/introspect", introspect, methods=["POST"], name="oidc_introspect"),
    Route("/oidc/logout", logout, methods=["GET", "POST"], name="oidc_logout"),
]
