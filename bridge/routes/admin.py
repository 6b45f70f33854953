"""Administration pages: the staff an administrator manages, new staff, staff cards, resets, unlocks.

HTTP only: each handler reads the form, calls one use case of `bridge/application/` (in a thread:
argon2 hashing is deliberately slow) and renders what it returns. Who may do what is decided
there, the same for these pages and for `bridge staff ...`.

A one-time password is rendered straight into the POST response (Cache-Control: no-store by
`render`); it never goes into a URL, a cookie or the session, so no later page can show it again.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import registration, role_grants, signin_recovery, staff_cards, staff_registry
from bridge.application.principals import administrator
from bridge.application.registration import ActivationLinks
from bridge.application.role_grants import IssuingChoices, RoleGrant
from bridge.application.staff_cards import StaffAdminPolicy, StaffView
from bridge.application.staff_registry import NewStaff
from bridge.services.actors import Actor
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError, InvalidInput, NotFound
from bridge.services.moscow_time import moscow_datetime
from bridge.web.context import client_address, current_signin, runtime_of, settings_of
from bridge.web.templating import render
from bridge.web.urls import path_for

# --- who is asking ---------------------------------------------------------------------------


def _forbidden(request: Request, message: str) -> Response:
    return render(request, "error.html", {"title": "Доступ запрещён", "message": message}, status_code=403)


async def _administrator(request: Request) -> Actor | Response:
    """The signed-in administrator acting in the session's role, or the answer to send instead."""
    signin = current_signin(request)
    if signin is None:
        return RedirectResponse(path_for(request, "login", query={"next": request.url.path}), status_code=303)
    role_id = signin.role.id if signin.role is not None else None
    try:
        return await run_in_threadpool(
            administrator, runtime_of(request).db, signin.staff.id, role_id, address=client_address(request)
        )
    except DomainError as error:
        return _forbidden(request, error.message)


def _not_found(request: Request, error: DomainError) -> Response:
    return render(request, "error.html", {"title": "Сотрудник не найден", "message": error.message}, status_code=404)


def _policy(request: Request) -> StaffAdminPolicy:
    return StaffAdminPolicy.of(settings_of(request))


# --- form parsing ----------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _form_date(form: FormData, name: str, title: str, *, default: date | None) -> date | None:
    raw = _text(form, name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("invalid_date", f"Поле «{title}»: дата указана неверно.") from None


def _form_grant(form: FormData) -> RoleGrant:
    raw_organization = _text(form, "organization_id")
    if not raw_organization.isdigit():
        raise InvalidInput("organization_required", "Выберите организацию.")
    role = _text(form, "role")
    if not role:
        raise InvalidInput("role_required", "Выберите роль.")
    start = _form_date(form, "start_date", "Начальная дата", default=date.today())
    assert start is not None
    return RoleGrant(int(raw_organization), role, start, _form_date(form, "end_date", "Конечная дата", default=None))


def _form_new_staff(form: FormData) -> NewStaff:
    return NewStaff(
        surname=_text(form, "surname"),
        name=_text(form, "name"),
        patronymic=_text(form, "patronymic") or None,
        no_patronymic=form.get("no_patronymic") == "1",
        grant=_form_grant(form),
        snils=_text(form, "snils") or None,
        email=_text(form, "email") or None,
        note=_text(form, "note") or None,
    )


def _form_values(form: FormData) -> dict[str, Any]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


# --- rendering -------------------------------------------------------------------------------


def _render_card(
    request: Request,
    actor: Actor,
    choices: IssuingChoices,
    view: StaffView,
    *,
    credential: IssuedCredential | None = None,
    notice: str | None = None,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    window = settings_of(request).login_throttle_window
    context = {
        "actor": actor, "card": view.card, "credential": credential, "notice": notice, "error": error,
        "choices": choices, "values": values or {"start_date": date.today().isoformat()},
        "throttle": view.signin_lock, "throttle_window_minutes": int(window.total_seconds() // 60),
    }
    return render(request, "admin/staff_card.html", context, status_code=status_code)


async def _render_list(
    request: Request, actor: Actor, query: str, *, credential: IssuedCredential | None = None,
    notice: str | None = None,
) -> Response:
    cards = await run_in_threadpool(
        staff_cards.list_managed_staff, runtime_of(request).db, actor, surname=query or None
    )
    context = {"actor": actor, "cards": cards, "query": query, "credential": credential, "notice": notice}
    return render(request, "admin/staff_list.html", context)


# --- pages -----------------------------------------------------------------------------------


async def staff_list(request: Request) -> Response:
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _render_list(request, actor, request.query_params.get("q", "").strip())


async def new_staff(request: Request) -> Response:
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    choices = await run_in_threadpool(role_grants.issuing_choices, database, actor)
    if request.method == "GET":
        values = {"start_date": date.today().isoformat()}
        return render(request, "admin/staff_new.html", {"actor": actor, "choices": choices, "values": values})

    form = await request.form()
    values = _form_values(form)
    try:
        registered = await run_in_threadpool(
            staff_registry.register_staff, database, actor, _form_new_staff(form), _policy(request)
        )
    except DomainError as error:
        context = {"actor": actor, "choices": choices, "values": values, "error": error.message}
        return render(request, "admin/staff_new.html", context, status_code=400)
    notice = "Сотрудник зарегистрирован."
    if form.get("action") == "save_close":
        return await _render_list(request, actor, "", credential=registered.credential, notice=notice)
    return _render_card(request, actor, choices, registered.staff, credential=registered.credential, notice=notice)


async def staff_page(request: Request) -> Response:
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    try:
        view = await run_in_threadpool(
            staff_cards.show_staff_card, database, actor, request.path_params["login"], _policy(request)
        )
    except NotFound as error:
        return _not_found(request, error)
    except DomainError as error:
        return _forbidden(request, error.message)
    choices = await run_in_threadpool(role_grants.issuing_choices, database, actor)
    return _render_card(request, actor, choices, view)


async def _posted_on_card(request: Request) -> tuple[Actor, FormData, IssuingChoices] | Response:
    """What every form on the card starts with: the administrator, the form (CSRF-checked), the selects."""
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    choices = await run_in_threadpool(role_grants.issuing_choices, runtime_of(request).db, actor)
    return actor, form, choices


async def add_role_action(request: Request) -> Response:
    posted = await _posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form, choices = posted
    login = request.path_params["login"]
    try:
        added = await run_in_threadpool(
            role_grants.add_role, runtime_of(request).db, actor, login, _form_grant(form), _policy(request)
        )
    except DomainError as error:
        return await _refused_on_card(request, actor, choices, login, error, values=_form_values(form))
    notice = f"Роль «{added.role.title}» добавлена."
    return _render_card(request, actor, choices, added.staff, credential=added.credential, notice=notice)


async def reset_password_action(request: Request) -> Response:
    """«Сбросить пароль»: the new password is shown once, in this response."""
    posted = await _posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, _, choices = posted
    login = request.path_params["login"]
    try:
        reset = await run_in_threadpool(
            signin_recovery.reset_password, runtime_of(request).db, actor, login, _policy(request)
        )
    except DomainError as error:
        return await _refused_on_card(request, actor, choices, login, error)
    retirement = reset.retirement
    notice = (
        f"Пароль сброшен. Привязок к внешним учётным записям удалено: {retirement.bindings_removed}, "
        f"сеансов завершено: {retirement.sessions_ended}. При следующем входе сотрудник заново "
        "привяжет учётную запись."
    )
    return _render_card(request, actor, choices, reset.staff, credential=reset.credential, notice=notice)


async def unlock_action(request: Request) -> Response:
    """«Снять блокировку входа»: POST, then back to the card (GET), which shows the counters as they are."""
    posted = await _posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, _, choices = posted
    login = request.path_params["login"]
    try:
        await run_in_threadpool(signin_recovery.unlock_password_signin, runtime_of(request).db, actor, login)
    except DomainError as error:
        return await _refused_on_card(request, actor, choices, login, error)
    return RedirectResponse(path_for(request, "admin_staff_card", login=login), status_code=303)


async def _refused_on_card(
    request: Request, actor: Actor, choices: IssuingChoices, login: str, error: DomainError,
    *, values: dict[str, Any] | None = None,
) -> Response:
    """The refusal over the person's card; a person the actor may not see gets no card at all."""
    try:
        view = await run_in_threadpool(
            staff_cards.show_staff_card, runtime_of(request).db, actor, login, _policy(request)
        )
    except NotFound as missing:
        return _not_found(request, missing)
    except DomainError as hidden:
        return _forbidden(request, hidden.message)
    return _render_card(request, actor, choices, view, error=error.message, values=values, status_code=400)


# --- «Заявки»: registration requests and activation links ----------------------------------------

_LOGIN_SHAPE = re.compile(r"[a-z0-9_]{1,100}")


def _activation_links(request: Request) -> ActivationLinks:
    """The mailed link's page, at the bridge's public address (not the Host this request came with)."""
    return ActivationLinks(settings_of(request).public_url + path_for(request, "activate"))


def _requests_notice(request: Request) -> str | None:
    """The result of the action this page was redirected from (POST → redirect → GET)."""
    done = request.query_params.get("done")
    number = request.query_params.get("request", "")
    login = request.query_params.get("login", "")
    if done == "approved" and number.isdigit():
        return f"Заявка №{number} одобрена, заявителю отправлено письмо."
    if done == "rejected" and number.isdigit():
        return f"Заявка №{number} отклонена, заявителю отправлено письмо с причиной."
    if done == "resent" and _LOGIN_SHAPE.fullmatch(login):
        return f"Новая ссылка для входа отправлена сотруднику {login}; прежние ссылки больше не действуют."
    return None


async def _render_requests(
    request: Request, actor: Actor, *, error: str | None = None, status_code: int = 200
) -> Response:
    database = runtime_of(request).db
    pending = await run_in_threadpool(registration.list_pending_requests, database, actor)
    awaiting = await run_in_threadpool(registration.list_awaiting_activation, database, actor)
    context = {
        "actor": actor, "pending": pending, "awaiting": awaiting, "error": error,
        "notice": None if error else _requests_notice(request), "moscow": moscow_datetime,
    }
    return render(request, "admin/requests.html", context, status_code=status_code)


def _request_refusal_status(error: DomainError) -> int:
    return 404 if isinstance(error, NotFound) else 400


async def requests_page(request: Request) -> Response:
    """«Заявки»: the requests this administrator may decide, and people still to follow their link."""
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _render_requests(request, actor)


async def approve_request_action(request: Request) -> Response:
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    request_id: int = request.path_params["request_id"]
    try:
        await run_in_threadpool(
            lambda: registration.approve_request(
                runtime_of(request).db, actor, request_id, _text(form, "role"), _activation_links(request),
                existing_login=_text(form, "existing_login") or None,
            )
        )
    except DomainError as error:
        return await _render_requests(request, actor, error=error.message, status_code=_request_refusal_status(error))
    return RedirectResponse(
        path_for(request, "admin_requests", query={"done": "approved", "request": str(request_id)}), status_code=303
    )


async def _reject_page(
    request: Request, actor: Actor, request_id: int, *, reason: str = "", error: str | None = None,
    status_code: int = 200,
) -> Response:
    pending = await run_in_threadpool(registration.list_pending_requests, runtime_of(request).db, actor)
    found = next((view for view in pending if view.id == request_id), None)
    if found is None:
        message = "Заявка не найдена, по ней уже принято решение или её решает другой администратор."
        return render(request, "error.html", {"title": "Заявка не найдена", "message": message}, status_code=404)
    context = {"actor": actor, "view": found, "reason": reason, "error": error, "moscow": moscow_datetime}
    return render(request, "admin/request_reject.html", context, status_code=status_code)


async def reject_request_page(request: Request) -> Response:
    """The confirmation step of «Отклонить»: the request once more, and the reason the person will read."""
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _reject_page(request, actor, request.path_params["request_id"])


async def reject_request_action(request: Request) -> Response:
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    request_id: int = request.path_params["request_id"]
    reason = _text(form, "reason")
    try:
        await run_in_threadpool(registration.reject_request, runtime_of(request).db, actor, request_id, reason)
    except NotFound as error:
        return render(request, "error.html", {"title": "Заявка не найдена", "message": error.message}, status_code=404)
    except DomainError as error:
        return await _reject_page(request, actor, request_id, reason=reason, error=error.message, status_code=400)
    return RedirectResponse(
        path_for(request, "admin_requests", query={"done": "rejected", "request": str(request_id)}), status_code=303
    )


async def resend_activation_action(request: Request) -> Response:
    """«Выслать ссылку повторно»: a new activation link by mail; the administrator never sees it."""
    actor = await _administrator(request)
    if isinstance(actor, Response):
        return actor
    login = request.path_params["login"]
    try:
        await run_in_threadpool(
            registration.resend_activation, runtime_of(request).db, actor, login, _activation_links(request)
        )
    except DomainError as error:
        return await _render_requests(request, actor, error=error.message, status_code=_request_refusal_status(error))
    return RedirectResponse(
        path_for(request, "admin_requests", query={"done": "resent", "login": login}), status_code=303
    )


routes: list[BaseRoute] = [
    Route("/admin/staff", staff_list, methods=["GET"], name="admin_staff_list"),
    Route("/admin/staff/new", new_staff, methods=["GET", "POST"], name="admin_staff_new"),
    Route("/admin/staff/{login}", staff_page, methods=["GET"], name="admin_staff_card"),
    Route("/admin/staff/{login}/roles", add_role_action, methods=["POST"], name="admin_staff_add_role"),
    Route(
        "/admin/staff/{login}/reset-password", reset_password_action, methods=["POST"],
        name="admin_staff_reset_password",
    ),
    Route("/admin/staff/{login}/unlock", unlock_action, methods=["POST"], name="admin_staff_unlock"),
    Route(
        "/admin/staff/{login}/activation-link", resend_activation_action, methods=["POST"],
        name="admin_staff_resend_activation",
    ),
    Route("/admin/requests", requests_page, methods=["GET"], name="admin_requests"),
    Route(
        "/admin/requests/{request_id:int}/approve", approve_request_action, methods=["POST"],
        name="admin_request_approve",
    ),
    Route(
        "/admin/requests/{request_id:int}/reject", reject_request_page, methods=["GET"],
        name="admin_request_reject_confirm",
    ),
    Route(
        "/admin/requests/{request_id:int}/reject", reject_request_action, methods=["POST"],
        name="admin_request_reject",
    ),
]
