"""Administration pages: the staff an administrator manages, new staff, staff cards, resets, unlocks.

HTTP only: each handler reads the form, calls one use case of `bridge/application/` (in a thread:
argon2 hashing is deliberately slow) and renders what it returns. Who may do what is decided
there, the same for these pages and for `bridge staff ...`.

A one-time password is rendered straight into the POST response (Cache-Control: no-store by
`render`); it never goes into a URL, a cookie or the session, so no later page can show it again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import role_grants, signin_recovery, staff_cards, staff_registry
from bridge.application.principals import administrator
from bridge.application.role_grants import IssuingChoices, RoleGrant
from bridge.application.staff_cards import StaffAdminPolicy, StaffView
from bridge.application.staff_registry import NewStaff
from bridge.services.actors import Actor
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError, InvalidInput, NotFound
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
    return RoleGrant(
        int(raw_organization), role, start, _form_date(form, "end_date", "Конечная дата", default=None),
        position=_text(form, "position") or None,
    )


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
        phone=_text(form, "phone") or None,
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
]
