"""Sign-in pages: provider choice, upstream callback, first sign-in, role choice, account, logout."""

from __future__ import annotations

from urllib.parse import urlencode

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.flows.outcomes import NeedsLocalPassword, NeedsProvider, Outcome, Refused, SignedIn
from bridge.flows.role_choice import RoleOption, choose_role, role_options
from bridge.flows.signin import BINDING_EXPIRED, SignInFlow, safe_next
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext
from bridge.services.signin_sessions import ActiveSignIn
from bridge.web.browser import browser_id, browser_of
from bridge.web.context import client_address, current_signin, runtime_of
from bridge.web.csrf import csrf_valid
from bridge.web.signin_cookie import clear_signin_cookie, set_signin_cookie
from bridge.web.templating import render


def _flow(request: Request, active: ActiveSignIn | None = None) -> SignInFlow:
    actor = active.staff.login if active else ANONYMOUS_ACTOR
    return SignInFlow(runtime_of(request), browser_id(request), AuditContext(actor, client_address(request)))


def _providers(request: Request) -> list[tuple[str, str]]:
    return [(provider.key, provider.title) for provider in runtime_of(request).upstream]


def _with_query(path: str, **params: str | None) -> str:
    present = {key: value for key, value in params.items() if value}
    return f"{path}?{urlencode(present)}" if present else path


def _respond(request: Request, outcome: Outcome) -> Response:
    if isinstance(outcome, SignedIn):
        target = (
            _with_query("/login/role", next=outcome.next_url) if outcome.needs_role_choice else outcome.next_url
        )
        response = RedirectResponse(target, status_code=303)
        set_signin_cookie(response, runtime_of(request).settings, outcome.signin_session_id, remember=outcome.remember)
        return response
    if isinstance(outcome, NeedsLocalPassword):
        return RedirectResponse("/login/bind", status_code=303)
    if isinstance(outcome, NeedsProvider):
        return RedirectResponse("/login/first/provider", status_code=303)
    return _refused(request, outcome)


def _refused(request: Request, refused: Refused) -> Response:
    status = 502 if refused.code.startswith("upstream_") else 400
    return render(request, "signin/refused.html", {"refused": refused}, status_code=status)


def _max_age(value: object) -> int | None:
    """A relying app's max_age passed on by the OP (`/login?max_age=`): seconds, or None."""
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9 else None


def _bad_form(request: Request) -> Response:
    return _refused(
        request,
        Refused("csrf", "Страница устарела. Откройте вход заново и повторите.", retry_url="/login"),
    )


async def login_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    reauth = request.query_params.get("reauth") == "1"
    max_age = _max_age(request.query_params.get("max_age"))
    active = current_signin(request)
    if active is not None and not reauth:
        return RedirectResponse(next_url, status_code=303)
    provider = request.query_params.get("provider")
    if provider and runtime_of(request).upstream.get(provider) is not None:
        started = await _flow(request).start_upstream(
            provider,
            remember=False,
            next_url=next_url,
            replaces_session=_replaced(active, reauth),
            force_login=reauth,
            max_age=max_age,
        )
        return RedirectResponse(started, status_code=303) if isinstance(started, str) else _refused(request, started)
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


def _replaced(active: ActiveSignIn | None, reauth: bool) -> str | None:
    """After a re-authentication the old session ends: one browser, one sign-in session."""
    return active.session.id if active is not None and reauth else None


async def start_upstream(request: Request) -> Response:
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _bad_form(request)
    active = await to_thread.run_sync(current_signin, request)
    started = await _flow(request).start_upstream(
        str(form.get("provider", "")),
        remember=form.get("remember") == "on",
        next_url=str(form.get("next", "")),
        replaces_session=_replaced(active, form.get("reauth") == "1"),
        force_login=form.get("reauth") == "1",
        max_age=_max_age(form.get("max_age")),
    )
    if isinstance(started, Refused):
        return _refused(request, started)
    return RedirectResponse(started, status_code=303)


async def upstream_callback(request: Request) -> Response:
    provider = request.path_params["provider"]
    outcome = await _flow(request).finish_upstream(provider, dict(request.query_params))
    return _respond(request, outcome)


async def first_signin_page(request: Request) -> Response:
    return render(
        request,
        "signin/first.html",
        {
            "next": safe_next(request.query_params.get("next")),
            "login": request.query_params.get("login_hint", ""),
            "error": None,
        },
    )


async def submit_password(request: Request, *, binding_only: bool = False) -> Response:
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _bad_form(request)
    login = str(form.get("login", ""))
    flow = _flow(request)
    outcome = await to_thread.run_sync(
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
        identity = await to_thread.run_sync(flow.pending_identity)
        template = "signin/bind.html" if identity is not None else "signin/first.html"
        return render(
            request,
            template,
            {"next": str(form.get("next", "")), "login": login, "error": outcome.message, "identity": identity},
            status_code=400,
        )
    return _respond(request, outcome)


async def submit_binding_password(request: Request) -> Response:
    """The password step of an external-first binding: only with this browser's pending binding."""
    return await submit_password(request, binding_only=True)


async def choose_provider_page(request: Request) -> Response:
    flow = _flow(request)
    if not await to_thread.run_sync(flow.has_local_proof):
        return RedirectResponse("/login/first", status_code=303)
    remember, next_url = await to_thread.run_sync(flow.parked_preferences)
    return render(
        request,
        "signin/choose_provider.html",
        {"providers": _providers(request), "next": next_url, "remember": remember},
    )


async def bind_page(request: Request) -> Response:
    identity = await to_thread.run_sync(_flow(request).pending_identity)
    if identity is None:
        return _refused(request, BINDING_EXPIRED)
    return render(request, "signin/bind.html", {"identity": identity, "login": "", "error": None, "next": ""})


async def role_page(request: Request) -> Response:
    active = current_signin(request)
    next_url = safe_next(request.query_params.get("next"))
    if active is None:
        return RedirectResponse(_with_query("/login", next=_with_query("/login/role", next=next_url)), 303)
    options: list[RoleOption] = await to_thread.run_sync(role_options, runtime_of(request), active.staff.id)
    return render(request, "signin/role.html", {"options": options, "next": next_url, "active": active})


async def submit_role(request: Request) -> Response:
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _bad_form(request)
    active = current_signin(request)
    if active is None:
        return RedirectResponse("/login", status_code=303)
    try:
        role_id = int(str(form.get("role_id", "")))
    except ValueError:
        role_id = -1
    audit = AuditContext(active.staff.login, client_address(request))
    chosen = await to_thread.run_sync(choose_role, runtime_of(request), audit, active.session.id, role_id)
    if not chosen:
        return _refused(request, Refused("role_unavailable", "Эта роль сейчас недоступна. Выберите другую.",
                                         retry_url="/login/role"))
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)


async def account_page(request: Request) -> Response:
    active = current_signin(request)
    if active is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    options = await to_thread.run_sync(role_options, runtime_of(request), active.staff.id)
    return render(request, "signin/account.html", {"active": active, "options": options})


async def logout(request: Request) -> Response:
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _bad_form(request)
    active = current_signin(request)
    if active is not None:
        from bridge.flows.role_choice import sign_out

        await to_thread.run_sync(
            sign_out, runtime_of(request), AuditContext(active.staff.login, client_address(request)), active.session.id
        )
    # A new browser id after sign-out: nothing parked under the old one is reachable any more.
    browser_of(request).renew()
    response = RedirectResponse("/login", status_code=303)
    clear_signin_cookie(response, runtime_of(request).settings)
    return response


routes: list[BaseRoute] = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login/start", start_upstream, methods=["POST"]),
    Route("/login/callback/{provider}", upstream_callback, methods=["GET"]),
    Route("/login/first", first_signin_page, methods=["GET"]),
    Route("/login/first", submit_password, methods=["POST"]),
    Route("/login/first/provider", choose_provider_page, methods=["GET"]),
    Route("/login/bind", bind_page, methods=["GET"]),
    Route("/login/bind", submit_binding_password, methods=["POST"]),
    Route("/login/role", role_page, methods=["GET"]),
    Route("/login/role", submit_role, methods=["POST"]),
    Route("/account", account_page, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
]
