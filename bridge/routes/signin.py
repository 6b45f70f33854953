"""Sign-in pages: provider choice, upstream callback, first sign-in, role choice, account, logout.

HTTP only: read the request, hand it to the sign-in flow (bridge/flows/signin.py) or a use case
(bridge/application/signin.py), and turn the answer into a page or a redirect.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application.signin import RoleUnavailable, choose_role, role_options, sign_out
from bridge.blocking import run_blocking
from bridge.flows.outcomes import GoUpstream, Linked, NeedsLocalPassword, NeedsProvider, Outcome, Refused, SignedIn
from bridge.flows.signin import BINDING_EXPIRED, SignInFlow, safe_next
from bridge.op.outcomes import Outcome as ProviderOutcome
from bridge.routes.dependencies import signin_dependencies
from bridge.routes.relying_app_answer import answering_app, app_answer, as_response, as_response_to_post, provider_of
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext
from bridge.services.roles import ROLES, Role
from bridge.services.signin_sessions import ActiveSignIn
from bridge.web.browser import browser_id, browser_of
from bridge.web.context import client_address, runtime_of, signed_in
from bridge.web.signin_cookie import clear_signin_cookie, read_signin_session_id, set_signin_cookie
from bridge.web.templating import render
from bridge.web.urls import path_for


def signin_flow(request: Request, active: ActiveSignIn | None = None) -> SignInFlow:
    actor = active.staff.login if active else ANONYMOUS_ACTOR
    audit = AuditContext(actor, client_address(request), user_agent=request.headers.get("user-agent"))
    return SignInFlow(signin_dependencies(request), browser_id(request), audit)


def _next(request: Request, value: str | None) -> str:
    return safe_next(value, path_for(request, "account"))


def _audit(request: Request, active: ActiveSignIn) -> AuditContext:
    return AuditContext(active.staff.login, client_address(request))


def _providers(request: Request) -> list[tuple[str, str]]:
    return [(provider.key, provider.title) for provider in runtime_of(request).upstream]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def respond(request: Request, outcome: Outcome) -> Response:
    """A sign-in step's outcome as HTTP: the sign-in cookie and the next page, upstream, or a refusal."""
    if isinstance(outcome, SignedIn):
        # The workplace data (every role's position), then the role for this session, then where the
        # person was going.
        target = outcome.next_url
        if outcome.needs_role_choice:
            target = path_for(request, "login_role", query={"next": target})
        if outcome.profile_due:
            target = path_for(request, "login_profile", query={"next": target})
        response = _see_other(target)
        set_signin_cookie(response, runtime_of(request).settings, outcome.cookie_token, remember=outcome.remember)
        return response
    if isinstance(outcome, GoUpstream):
        return _see_other(outcome.url)
    if isinstance(outcome, NeedsLocalPassword):
        return _see_other(path_for(request, "login_bind"))
    if isinstance(outcome, NeedsProvider):
        return _see_other(path_for(request, "login_first_provider"))
    if isinstance(outcome, Linked):
        return _see_other(path_for(request, "cabinet", query={"done": "linked"}))
    return _refused(request, outcome)


def _refused(request: Request, refused: Refused, *, retry_at: str = "login") -> Response:
    status = 502 if refused.code.startswith("upstream_") else 400
    retry_url = path_for(request, retry_at) if refused.retryable else None
    return render(request, "signin/refused.html", {"refused": refused, "retry_url": retry_url}, status_code=status)


def upstream_max_age(value: object) -> int | None:
    """A relying app's max_age passed on by the OP (`/login?max_age=`): seconds, or None."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9 else None


def _replaced(active: ActiveSignIn | None, reauth: bool) -> str | None:
    """After a re-authentication the old session ends: one browser, one sign-in session."""
    return active.session.id if active is not None and reauth else None


async def login_page(request: Request) -> Response:
    next_url = _next(request, request.query_params.get("next"))
    reauth = request.query_params.get("reauth") == "1"
    max_age = upstream_max_age(request.query_params.get("max_age"))
    active = await signed_in(request)
    if active is not None and not reauth:
        return _see_other(next_url)
    provider = request.query_params.get("provider")
    if provider and runtime_of(request).upstream.get(provider) is not None:
        started = await signin_flow(request).start_upstream(
            provider,
            remember=False,
            next_url=next_url,
            replaces_session=_replaced(active, reauth),
            force_login=reauth,
            max_age=max_age,
        )
        return respond(request, started)
    return render(
        request,
        "signin/login.html",
        {
            "providers": _providers(request),
            "next": next_url,
            "login_hint": request.query_params.get("login_hint", ""),
            "reauth": reauth,
            "max_age": max_age,
        },
    )


async def start_upstream(request: Request) -> Response:
    form = await request.form()
    active = await signed_in(request)
    started = await signin_flow(request).start_upstream(
        str(form.get("provider", "")),
        remember=form.get("remember") == "on",
        next_url=str(form.get("next", "")),
        replaces_session=_replaced(active, form.get("reauth") == "1"),
        force_login=form.get("reauth") == "1",
        max_age=upstream_max_age(form.get("max_age")),
    )
    return respond(request, started)


async def upstream_callback(request: Request) -> Response:
    provider = request.path_params["provider"]
    # A link's round trip binds to the person signed in in this browser (and to nobody else).
    signin_session_id = read_signin_session_id(request, runtime_of(request).settings)
    outcome = await signin_flow(request).finish_upstream(
        provider, dict(request.query_params), signin_session_id=signin_session_id,
        answer_app=answering_app(request),
    )
    if isinstance(outcome, SignedIn) and isinstance(outcome.answer, ProviderOutcome):
        # The app that sent the person is answered now (its code, or its error): signed in here too.
        response = as_response(request, outcome.answer)
        set_signin_cookie(response, runtime_of(request).settings, outcome.cookie_token, remember=outcome.remember)
        return response
    return respond(request, outcome)


async def first_signin_page(request: Request) -> Response:
    return render(
        request,
        "signin/first.html",
        {
            "next": _next(request, request.query_params.get("next")),
            "login": request.query_params.get("login_hint", ""),
            "error": None,
        },
    )


async def submit_password(request: Request, *, binding_only: bool = False) -> Response:
    form = await request.form()
    login = str(form.get("login", ""))
    flow = signin_flow(request)
    outcome = await run_blocking(
        lambda: flow.submit_password(
            login,
            str(form.get("password", "")),
            remember=form.get("remember") == "on",
            next_url=str(form.get("next", "")),
            binding_only=binding_only,
        )
    )
    if isinstance(outcome, Refused) and outcome.code in ("password_refused", "throttled"):
        # Stay on the form the person used, keeping the login, never the password.
        identity = await run_blocking(flow.pending_identity)
        template = "signin/bind.html" if identity is not None else "signin/first.html"
        return render(
            request,
            template,
            {"next": str(form.get("next", "")), "login": login, "error": outcome.message, "identity": identity},
            status_code=400,
        )
    return respond(request, outcome)


async def submit_binding_password(request: Request) -> Response:
    """The password step of an external-first binding: only with this browser's pending binding."""
    return await submit_password(request, binding_only=True)


async def choose_provider_page(request: Request) -> Response:
    flow = signin_flow(request)
    if not await run_blocking(flow.has_local_proof):
        return _see_other(path_for(request, "login_first"))
    remember, next_url = await run_blocking(flow.parked_preferences)
    return render(
        request,
        "signin/choose_provider.html",
        {"providers": _providers(request), "next": next_url, "remember": remember},
    )


async def bind_page(request: Request) -> Response:
    identity = await run_blocking(signin_flow(request).pending_identity)
    if identity is None:
        return _refused(request, BINDING_EXPIRED)
    return render(request, "signin/bind.html", {"identity": identity, "login": "", "error": None, "next": ""})


async def role_page(request: Request) -> Response:
    active = await signed_in(request)
    next_url = _next(request, request.query_params.get("next"))
    if active is None:
        back_here = path_for(request, "login_role", query={"next": next_url})
        return _see_other(path_for(request, "login", query={"next": back_here}))
    options = await run_blocking(role_options, runtime_of(request).db, active.staff.id)
    return render(request, "signin/role.html", {"options": options, "next": next_url, "active": active})


async def submit_role(request: Request) -> Response:
    form = await request.form()
    active = await signed_in(request)
    if active is None:
        return _see_other(path_for(request, "login"))
    try:
        role_id = int(str(form.get("role_id", "")))
    except ValueError:
        role_id = -1
    next_url = _next(request, str(form.get("next", "")))
    session_id, audit, answer = active.session.id, _audit(request, active), app_answer(request)

    def choose() -> object:
        provider_of(request).ready()
        # The role set and, when the choice was on the way to an app, its parked request answered
        # in the same transaction (not a redirect back to the endpoint to take and decide it again).
        chosen = choose_role(
            runtime_of(request).db, audit, session_id, role_id,
            then=lambda db, roles: answer(db, session_id, next_url, roles),
        )
        return chosen.followed_by

    try:
        answered = await run_blocking(choose)
    except RoleUnavailable as refusal:
        return _refused(request, Refused(refusal.code, refusal.message), retry_at="login_role")
    if isinstance(answered, ProviderOutcome):
        return as_response_to_post(request, answered)
    return _see_other(next_url)


async def account_page(request: Request) -> Response:
    active = await signed_in(request)
    if active is None:
        return _see_other(path_for(request, "login", query={"next": path_for(request, "account")}))
    options = await run_blocking(role_options, runtime_of(request).db, active.staff.id)
    role = Role(active.role.role) if active.role is not None else None
    # The way into the administration pages for a role that issues something (and for support).
    administers = role is not None and (role is Role.SUPPORT or bool(ROLES[role].issues))
    context = {"active": active, "options": options, "administers": administers, "support": role is Role.SUPPORT}
    return render(request, "signin/account.html", context)


async def logout(request: Request) -> Response:
    active = await signed_in(request)
    if active is not None:
        await run_blocking(sign_out, runtime_of(request).db, _audit(request, active), active.session.id)
    # A new browser id after sign-out: nothing parked under the old one is reachable any more.
    browser_of(request).renew()
    response = _see_other(path_for(request, "login"))
    clear_signin_cookie(response, runtime_of(request).settings)
    return response


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login/start", start_upstream, methods=["POST"], name="login_start"),
    Route("/login/callback/{provider}", upstream_callback, methods=["GET"], name="login_callback"),
    Route("/login/first", first_signin_page, methods=["GET"], name="login_first"),
    Route("/login/first", submit_password, methods=["POST"], name="login_first_password"),
    Route("/login/first/provider", choose_provider_page, methods=["GET"], name="login_first_provider"),
    Route("/login/bind", bind_page, methods=["GET"], name="login_bind"),
    Route("/login/bind", submit_binding_password, methods=["POST"], name="login_bind_password"),
    Route("/login/role", role_page, methods=["GET"], name="login_role"),
    Route("/login/role", submit_role, methods=["POST"], name="login_role_choice"),
    Route("/account", account_page, methods=["GET"], name="account"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
