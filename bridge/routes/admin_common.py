"""What the administration pages share: who is asking, reading a form, the staff card, its notices.

Every action on a card is POST → 303 → GET: the handler calls one use case and redirects to the
card with a notice code (`card_redirect`), so a refresh repeats nothing. A refusal changes nothing
and is answered in place, over the card (`refused_on_card`, status 400).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bridge.application import role_grants, staff_cards
from bridge.application.principals import administrator as administrator_of
from bridge.application.role_grants import IssuingChoices
from bridge.application.staff_cards import StaffAdminPolicy, StaffView
from bridge.blocking import run_blocking
from bridge.services.actors import Actor
from bridge.services.errors import DomainError, InvalidInput, NotFound
from bridge.web.context import client_address, runtime_of, settings_of, signed_in
from bridge.web.templating import render
from bridge.web.urls import path_for

# What the card says after an action, by the code its redirect carries (`?done=`): the URL holds
# a code, never a name or a number typed by someone.
NOTICES = {
    "role_added": "Роль добавлена.",
    "unlocked": "Блокировка входа по паролю снята: неудачные попытки забыты.",
    "edited": "Данные сотрудника сохранены.",
    "unchanged": "Изменений нет: данные остались прежними.",
    "role_ended": "Роль завершена: она действует по указанную дату включительно.",
    "role_dates": "Даты роли изменены.",
    "role_unchanged": "Даты роли остались прежними.",
    "blocked": "Учётная запись заблокирована: все сеансы завершены, войти нельзя никаким способом.",
    "unblocked": "Учётная запись разблокирована: сотрудник снова может входить через привязанные учётные записи.",
    "deactivated": "Кабинет отключён: войти больше нельзя. Если у сотрудника указана почта, ему отправлено "
    "уведомление.",
    "unbound": "Привязка удалена, все сеансы сотрудника завершены.",
    "sessions_ended": "Все сеансы сотрудника завершены, приложения лишились доступа.",
}


# --- who is asking ---------------------------------------------------------------------------


def forbidden(request: Request, message: str) -> Response:
    return render(request, "error.html", {"title": "Доступ запрещён", "message": message}, status_code=403)


def not_found(request: Request, error: DomainError) -> Response:
    return render(request, "error.html", {"title": "Сотрудник не найден", "message": error.message}, status_code=404)


async def administrator(request: Request) -> Actor | Response:
    """The signed-in administrator acting in the session's role, or the answer to send instead."""
    signin = await signed_in(request)
    if signin is None:
        return RedirectResponse(path_for(request, "login", query={"next": request.url.path}), status_code=303)
    role_id = signin.role.id if signin.role is not None else None
    try:
        return await run_blocking(
            administrator_of, runtime_of(request).db, signin.staff.id, role_id, address=client_address(request)
        )
    except DomainError as error:
        return forbidden(request, error.message)


def staff_policy(request: Request) -> StaffAdminPolicy:
    return StaffAdminPolicy.of(settings_of(request))


# --- form parsing ----------------------------------------------------------------------------


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_date(form: FormData, name: str, title: str, *, default: date | None) -> date | None:
    raw = form_text(form, name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("invalid_date", f"Поле «{title}»: дата указана неверно.") from None


def form_values(form: FormData) -> dict[str, Any]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


# --- the card --------------------------------------------------------------------------------


def render_card(
    request: Request,
    actor: Actor,
    choices: IssuingChoices,
    view: StaffView,
    *,
    notice: str | None = None,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    window = settings_of(request).login_throttle_window
    context = {
        "actor": actor, "card": view.card, "view": view, "notice": notice, "error": error,
        "choices": choices, "values": values or {"start_date": date.today().isoformat()},
        "throttle": view.signin_lock, "throttle_window_minutes": int(window.total_seconds() // 60),
    }
    return render(request, "admin/staff_card.html", context, status_code=status_code)


def card_redirect(request: Request, login: str, done: str) -> Response:
    """Back to the card (GET) after an action, with the notice `done` names."""
    assert done in NOTICES, done
    return RedirectResponse(path_for(request, "admin_staff_card", login=login, query={"done": done}), status_code=303)


async def posted_on_card(request: Request) -> tuple[Actor, FormData] | Response:
    """What every form on a card starts with: the administrator and the form (CSRF-checked by the middleware)."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    return actor, await request.form()


# (the database's session factory, the actor, the person's login): the adapters hold no SQLAlchemy type.
CardUseCase = Callable[[Any, Actor, str], object]


async def act_on_card(request: Request, use_case: CardUseCase, done: str) -> Response:
    """A button on the card with nothing to fill in: run `use_case(database, actor, login)`, then
    back to the card with the `done` notice (POST → 303 → GET), or the refusal over the card."""
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, _ = posted
    login = request.path_params["login"]
    try:
        await run_blocking(use_case, runtime_of(request).db, actor, login)
    except DomainError as error:
        return await refused_on_card(request, actor, login, error)
    return card_redirect(request, login, done)


async def shown_card(request: Request, actor: Actor, login: str) -> StaffView | Response:
    """The person's card for a page about them, or the 403/404 page when it is not the actor's to see."""
    try:
        return await run_blocking(
            staff_cards.show_staff_card, runtime_of(request).db, actor, login, staff_policy(request)
        )
    except NotFound as error:
        return not_found(request, error)
    except DomainError as error:
        return forbidden(request, error.message)


async def refused_on_card(
    request: Request, actor: Actor, login: str, error: DomainError, *, values: dict[str, Any] | None = None,
) -> Response:
    """The refusal over the person's card; a person the actor may not see gets no card at all."""
    view = await shown_card(request, actor, login)
    if isinstance(view, Response):
        return view
    choices = await run_blocking(role_grants.issuing_choices, runtime_of(request).db, actor)
    return render_card(request, actor, choices, view, error=error.message, values=values, status_code=400)


async def refused_on_page(
    request: Request, actor: Actor, login: str, template: str, error: DomainError,
    *, values: dict[str, Any] | None = None, **context: Any,
) -> Response:
    """A refused confirmation or form page shown again with the message and what was typed."""
    view = await shown_card(request, actor, login)
    if isinstance(view, Response):
        return view
    page = {"actor": actor, "card": view.card, "view": view, "error": error.message, "values": values or {}, **context}
    return render(request, template, page, status_code=400)
