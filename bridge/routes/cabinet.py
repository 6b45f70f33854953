"""«Личный кабинет»: the signed-in person's own page, and what they do there.

HTTP only. The person acts on themselves through bridge/application/cabinet.py (sessions, removing a
binding, asking to deactivate) and the sign-in flow (linking a second provider: a round trip whose
answer comes back to the sign-in callback). Every action is POST → 303 → GET with a notice code.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import cabinet
from bridge.application.principals import signed_in_person
from bridge.blocking import run_blocking
from bridge.flows.outcomes import GoUpstream, Refused
from bridge.flows.signin import SignInFlow
from bridge.routes.dependencies import signin_dependencies
from bridge.services.actors import Actor
from bridge.services.audit import AuditContext
from bridge.services.errors import DomainError, NotFound
from bridge.services.signin_sessions import ActiveSignIn, SessionTimeouts
from bridge.web.browser import browser_id
from bridge.web.context import client_address, runtime_of, signed_in
from bridge.web.signin_cookie import clear_signin_cookie
from bridge.web.templating import render
from bridge.web.urls import path_for

NOTICES = {
    "linked": "Способ входа привязан. Письмо об этом отправлено на вашу почту, если она указана.",
    "unlinked": "Привязка удалена; сеансы, открытые через неё, завершены.",
    "session_ended": "Сеанс завершён; приложения, в которые вы входили в нём, потеряли доступ.",
    "others_ended": "Все сеансы, кроме этого, завершены.",
    "deactivation_requested": "Просьба отключить кабинет отправлена в техническую поддержку. "
    "Ответ придёт на вашу почту.",
}
REASON_LIMIT = 2000


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _to_signin(request: Request) -> RedirectResponse:
    return _see_other(path_for(request, "login", query={"next": path_for(request, "cabinet")}))


def _person(request: Request, active: ActiveSignIn) -> Actor:
    return signed_in_person(active.staff.id, active.staff.login, address=client_address(request))


def _back(request: Request, done: str) -> RedirectResponse:
    return _see_other(path_for(request, "cabinet", query={"done": done}))


async def _signed_in(request: Request) -> ActiveSignIn | Response:
    active = await signed_in(request)
    return active if active is not None else _to_signin(request)


async def _view(request: Request, active: ActiveSignIn) -> cabinet.Cabinet | Response:
    runtime = runtime_of(request)
    try:
        return await run_blocking(
            cabinet.show_cabinet, runtime.db, _person(request, active), active.session.sid,
            SessionTimeouts.of(runtime.settings),
        )
    except DomainError as refusal:
        context = {"title": "Кабинет недоступен", "message": refusal.message}
        return render(request, "error.html", context, status_code=403)


async def _render(
    request: Request, active: ActiveSignIn, *, error: str | None = None, status_code: int = 200
) -> Response:
    runtime = runtime_of(request)
    view = await _view(request, active)
    if isinstance(view, Response):
        return view
    bound = {binding.provider for binding in view.card.bindings}
    linkable = [(provider.key, provider.title) for provider in runtime.upstream if provider.key not in bound]
    done = request.query_params.get("done", "")
    context = {
        "view": view, "card": view.card, "linkable": linkable, "error": error,
        "notice": None if error else NOTICES.get(done),
    }
    return render(request, "cabinet/index.html", context, status_code=status_code)


async def cabinet_page(request: Request) -> Response:
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    return await _render(request, active)


async def link_provider(request: Request) -> Response:
    """«Привязать»: off to the second provider; the answer binds it to this person, here only."""
    form = await request.form()
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    audit = AuditContext(active.staff.login, client_address(request), user_agent=request.headers.get("user-agent"))
    flow = SignInFlow(signin_dependencies(request), browser_id(request), audit)
    outcome = await flow.start_link(str(form.get("provider", "")), active.session.id)
    if isinstance(outcome, GoUpstream):
        return _see_other(outcome.url)
    assert isinstance(outcome, Refused)
    status = 502 if outcome.code.startswith("upstream_") else 400
    return await _render(request, active, error=outcome.message, status_code=status)


async def unlink_page(request: Request) -> Response:
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    view = await _view(request, active)
    if isinstance(view, Response):
        return view
    provider: str = request.path_params["provider"]
    binding = next((bound for bound in view.card.bindings if bound.provider == provider), None)
    if binding is None:
        return render(request, "error.html", {"title": "Привязка не найдена", "message": "Такой привязки нет."},
                      status_code=404)
    context = {"binding": binding, "last": len(view.card.bindings) < 2,
               "current": active.session.provider == provider}
    return render(request, "cabinet/unlink.html", context)


async def unlink_action(request: Request) -> Response:
    await request.form()
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    provider: str = request.path_params["provider"]
    try:
        removed = await run_blocking(
            cabinet.unlink_own_provider, runtime_of(request).db, _person(request, active), provider
        )
    except NotFound as refusal:
        return await _render(request, active, error=refusal.message, status_code=404)
    except DomainError as refusal:
        return await _render(request, active, error=refusal.message, status_code=400)
    if active.session.provider == removed.provider:
        # This very session rested on the removed binding: it has ended with it.
        response = _see_other(path_for(request, "login"))
        clear_signin_cookie(response, runtime_of(request).settings)
        return response
    return _back(request, "unlinked")


async def _end_sessions(request: Request, *, one: bool) -> Response:
    form = await request.form()
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    sid = str(form.get("sid", ""))[:64] if one else None
    try:
        ended = await run_blocking(
            lambda: cabinet.end_own_sessions(
                runtime_of(request).db, _person(request, active), active.session.sid, sid=sid
            )
        )
    except NotFound as refusal:
        return await _render(request, active, error=refusal.message, status_code=404)
    except DomainError as refusal:
        return await _render(request, active, error=refusal.message, status_code=400)
    if ended.current_ended:
        response = _see_other(path_for(request, "login"))
        clear_signin_cookie(response, runtime_of(request).settings)
        return response
    return _back(request, "session_ended" if one else "others_ended")


async def end_session(request: Request) -> Response:
    return await _end_sessions(request, one=True)


async def end_other_sessions(request: Request) -> Response:
    return await _end_sessions(request, one=False)


async def deactivation_page(request: Request) -> Response:
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    return render(request, "cabinet/deactivation.html", {"active": active, "error": None, "reason": ""})


async def deactivation_action(request: Request) -> Response:
    form = await request.form()
    active = await _signed_in(request)
    if isinstance(active, Response):
        return active
    reason = str(form.get("reason", ""))[:REASON_LIMIT]
    try:
        await run_blocking(
            cabinet.request_deactivation, runtime_of(request).db, _person(request, active), reason
        )
    except DomainError as refusal:
        context = {"active": active, "error": refusal.message, "reason": reason}
        return render(request, "cabinet/deactivation.html", context, status_code=400)
    return _back(request, "deactivation_requested")


routes: list[BaseRoute] = [
    Route("/cabinet", cabinet_page, methods=["GET"], name="cabinet"),
    Route("/cabinet/link", link_provider, methods=["POST"], name="cabinet_link"),
    Route("/cabinet/bindings/{provider}/unlink", unlink_page, methods=["GET"], name="cabinet_unlink"),
    Route("/cabinet/bindings/{provider}/unlink", unlink_action, methods=["POST"], name="cabinet_unlink_confirm"),
    Route("/cabinet/sessions/end", end_session, methods=["POST"], name="cabinet_end_session"),
    Route("/cabinet/sessions/end-others", end_other_sessions, methods=["POST"], name="cabinet_end_other_sessions"),
    Route("/cabinet/deactivation", deactivation_page, methods=["GET"], name="cabinet_deactivation"),
    Route("/cabinet/deactivation", deactivation_action, methods=["POST"], name="cabinet_deactivation_submit"),
]
