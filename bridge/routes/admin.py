"""Administration pages: the staff an administrator manages, new staff, staff cards, resets, unlocks.

A one-time password is rendered straight into the POST response (Cache-Control: no-store by
`render`); it never goes into a URL, a cookie or the session, so no later page can show it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.runtime import BridgeRuntime
from bridge.services.actors import Actor, actor_for_session_role
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError, InvalidInput, NotFound
from bridge.services.hierarchy import issuable_organizations, offerable_roles
from bridge.services.refusals import audited_refusals
from bridge.services.roles import ROLES, Role, role_title
from bridge.services.staff import (
    NewStaff,
    RoleGrant,
    StaffCard,
    add_role,
    get_managed_staff,
    managed_staff,
    register_staff,
    reset_password,
    staff_card,
    unlock_password_signin,
)
from bridge.services.throttle import LoginThrottle, ThrottlePolicy, login_throttle
from bridge.storage.database import transaction
from bridge.web.context import client_address, current_signin, runtime_of
from bridge.web.csrf import csrf_valid
from bridge.web.templating import render

STAFF_PATH = "/admin/staff"


@dataclass(frozen=True)
class Choices:
    """What the actor may pick in the Организация and Роль selects."""

    organizations: list[tuple[int, str]]
    roles: list[tuple[str, str]]


@dataclass
class Outcome:
    card: StaffCard | None = None
    credential: IssuedCredential | None = None
    notice: str | None = None
    error: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


# --- who is asking ---------------------------------------------------------------------------


def _forbidden(request: Request, message: str) -> Response:
    return render(request, "error.html", {"title": "Доступ запрещён", "message": message}, status_code=403)


def _issues_anything(role: str) -> bool:
    try:
        return bool(ROLES[Role(role)].issues)
    except ValueError:
        return False


def _administrator(request: Request) -> Actor | Response:
    """The signed-in administrator acting in the session's role, or the answer to send instead."""
    signin = current_signin(request)
    if signin is None:
        return RedirectResponse(f"/login?next={quote(request.url.path, safe='/')}", status_code=303)
    role = signin.role
    if role is None or not _issues_anything(role.role):
        return _forbidden(
            request,
            "В роли, выбранной для этого входа, нельзя выдавать учётные записи сотрудникам. "
            "Если у вас есть другая роль, войдите в ней.",
        )
    runtime = runtime_of(request)
    try:
        with runtime.db() as db:
            return actor_for_session_role(db, signin.staff.id, role.id, address=client_address(request))
    except DomainError as error:
        return _forbidden(request, error.message)


def _not_found(request: Request, error: DomainError) -> Response:
    return render(request, "error.html", {"title": "Сотрудник не найден", "message": error.message}, status_code=404)


def _csrf_refused(request: Request) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Форма устарела", "message": "Обновите страницу и повторите действие.", "retry_url": STAFF_PATH},
        status_code=403,
    )


# --- work done in a thread (argon2 hashing is deliberately slow) --------------------------------


def _choices(runtime: BridgeRuntime, actor: Actor) -> Choices:
    with runtime.db() as db:
        return Choices(
            organizations=[(org.id, org.name) for org in issuable_organizations(db, actor)],
            roles=[(role.value, role_title(role)) for role in offerable_roles(db, actor)],
        )


def _list(runtime: BridgeRuntime, actor: Actor, surname: str | None) -> list[StaffCard]:
    with runtime.db() as db:
        return managed_staff(db, actor, surname=surname)


def _card(runtime: BridgeRuntime, actor: Actor, login: str) -> StaffCard:
    with runtime.db() as db:
        return staff_card(db, get_managed_staff(db, actor, login))


def _register(runtime: BridgeRuntime, actor: Actor, new: NewStaff) -> Outcome:
    with (
        audited_refusals(
            runtime.db, actor.audit_context, "staff.register", role=new.grant.role,
            organization_id=new.grant.organization_id,
        ),
        transaction(runtime.db) as db,
    ):
        registration = register_staff(db, actor, new, credential_ttl=runtime.settings.credential_ttl)
        return Outcome(
            card=staff_card(db, registration.staff),
            credential=registration.credential,
            notice="Сотрудник зарегистрирован.",
        )


def _add_role(runtime: BridgeRuntime, actor: Actor, login: str, grant: RoleGrant) -> Outcome:
    with (
        audited_refusals(
            runtime.db, actor.audit_context, "role.add", login=login, role=grant.role,
            organization_id=grant.organization_id,
        ),
        transaction(runtime.db) as db,
    ):
        get_managed_staff(db, actor, login)
        addition = add_role(db, actor, login, grant, credential_ttl=runtime.settings.credential_ttl)
        return Outcome(
            card=staff_card(db, addition.staff),
            credential=addition.credential,
            notice=f"Роль «{role_title(addition.role.role)}» добавлена.",
        )


def _login_throttle(runtime: BridgeRuntime, login: str) -> LoginThrottle | None:
    with runtime.db() as db:
        return login_throttle(db, login, ThrottlePolicy.of(runtime.settings))


def _unlock(runtime: BridgeRuntime, actor: Actor, login: str) -> None:
    with (
        audited_refusals(runtime.db, actor.audit_context, "throttle.unlock", login=login),
        transaction(runtime.db) as db,
    ):
        get_managed_staff(db, actor, login)
        unlock_password_signin(db, actor, login)


def _reset(runtime: BridgeRuntime, actor: Actor, login: str) -> Outcome:
    with (
        audited_refusals(runtime.db, actor.audit_context, "credential.reset", login=login),
        transaction(runtime.db) as db,
    ):
        reset = reset_password(db, actor, login, credential_ttl=runtime.settings.credential_ttl)
        retirement = reset.retirement
        return Outcome(
            card=staff_card(db, reset.staff),
            credential=reset.credential,
            notice=(
                f"Пароль сброшен. Привязок к внешним учётным записям удалено: {retirement.bindings_removed}, "
                f"сеансов завершено: {retirement.sessions_ended}. При следующем входе сотрудник заново "
                "привяжет учётную запись."
            ),
        )


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


def _form_values(form: FormData) -> dict[str, Any]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


# --- pages -----------------------------------------------------------------------------------


async def staff_list(request: Request) -> Response:
    actor = _administrator(request)
    if isinstance(actor, Response):
        return actor
    query = request.query_params.get("q", "").strip()
    cards = await run_in_threadpool(_list, runtime_of(request), actor, query or None)
    return render(request, "admin/staff_list.html", {"actor": actor, "cards": cards, "query": query})


async def new_staff(request: Request) -> Response:
    actor = _administrator(request)
    if isinstance(actor, Response):
        return actor
    runtime = runtime_of(request)
    choices = await run_in_threadpool(_choices, runtime, actor)
    if request.method == "GET":
        values = {"start_date": date.today().isoformat()}
        return render(request, "admin/staff_new.html", {"actor": actor, "choices": choices, "values": values})

    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _csrf_refused(request)
    values = _form_values(form)
    try:
        new = NewStaff(
            surname=_text(form, "surname"),
            name=_text(form, "name"),
            patronymic=_text(form, "patronymic") or None,
            no_patronymic=form.get("no_patronymic") == "1",
            grant=_form_grant(form),
            snils=_text(form, "snils") or None,
            email=_text(form, "email") or None,
            note=_text(form, "note") or None,
        )
        outcome = await run_in_threadpool(_register, runtime, actor, new)
    except DomainError as error:
        context = {"actor": actor, "choices": choices, "values": values, "error": error.message}
        return render(request, "admin/staff_new.html", context, status_code=400)
    if form.get("action") == "save_close":
        cards = await run_in_threadpool(_list, runtime, actor, None)
        return render(
            request, "admin/staff_list.html",
            {"actor": actor, "cards": cards, "query": "", "credential": outcome.credential, "notice": outcome.notice},
        )
    return await _render_card(request, actor, choices, outcome)


async def _render_card(
    request: Request, actor: Actor, choices: Choices, outcome: Outcome, status_code: int = 200
) -> Response:
    role_values = outcome.values or {"start_date": date.today().isoformat()}
    throttle = None
    if outcome.card is not None:
        throttle = await run_in_threadpool(_login_throttle, runtime_of(request), outcome.card.login)
    context = {
        "actor": actor, "card": outcome.card, "credential": outcome.credential, "notice": outcome.notice,
        "error": outcome.error, "choices": choices, "values": role_values, "throttle": throttle,
        "throttle_window_minutes": int(runtime_of(request).settings.login_throttle_window.total_seconds() // 60),
    }
    return render(request, "admin/staff_card.html", context, status_code=status_code)


async def staff_page(request: Request) -> Response:
    actor = _administrator(request)
    if isinstance(actor, Response):
        return actor
    runtime = runtime_of(request)
    login = request.path_params["login"]
    try:
        card = await run_in_threadpool(_card, runtime, actor, login)
    except NotFound as error:
        return _not_found(request, error)
    except DomainError as error:
        return _forbidden(request, error.message)
    choices = await run_in_threadpool(_choices, runtime, actor)
    return await _render_card(request, actor, choices, Outcome(card=card))


async def add_role_action(request: Request) -> Response:
    return await _staff_action(request, "roles")


async def reset_password_action(request: Request) -> Response:
    return await _staff_action(request, "reset")


async def unlock_action(request: Request) -> Response:
    """«Снять блокировку входа»: POST, then back to the card (GET), which shows the counters as they are."""
    return await _staff_action(request, "unlock")


async def _staff_action(request: Request, action: str) -> Response:
    actor = _administrator(request)
    if isinstance(actor, Response):
        return actor
    runtime = runtime_of(request)
    login = request.path_params["login"]
    form = await request.form()
    if not csrf_valid(request, form.get("csrf_token")):
        return _csrf_refused(request)
    choices = await run_in_threadpool(_choices, runtime, actor)
    try:
        if action == "roles":
            outcome = await run_in_threadpool(_add_role, runtime, actor, login, _form_grant(form))
        elif action == "unlock":
            await run_in_threadpool(_unlock, runtime, actor, login)
            return RedirectResponse(f"{STAFF_PATH}/{quote(login, safe='')}", status_code=303)
        else:
            outcome = await run_in_threadpool(_reset, runtime, actor, login)
    except DomainError as error:
        try:
            card = await run_in_threadpool(_card, runtime, actor, login)
        except NotFound as missing:
            return _not_found(request, missing)
        except DomainError as hidden:
            return _forbidden(request, hidden.message)
        refused = Outcome(card=card, error=error.message, values=_form_values(form) if action == "roles" else {})
        return await _render_card(request, actor, choices, refused, status_code=400)
    return await _render_card(request, actor, choices, outcome)


routes: list[BaseRoute] = [
    Route(STAFF_PATH, staff_list, methods=["GET"]),
    Route(f"{STAFF_PATH}/new", new_staff, methods=["GET", "POST"]),
    Route(STAFF_PATH + "/{login}", staff_page, methods=["GET"]),
    Route(STAFF_PATH + "/{login}/roles", add_role_action, methods=["POST"]),
    Route(STAFF_PATH + "/{login}/reset-password", reset_password_action, methods=["POST"]),
    Route(STAFF_PATH + "/{login}/unlock", unlock_action, methods=["POST"]),
]
