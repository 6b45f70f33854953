"""The staff card's actions on an account's life: edit the data, end or re-date a role, block,
unblock, switch the cabinet off, unbind an external account, end the sessions.

HTTP only, as `bridge/routes/admin.py`: each POST calls one use case and redirects to the card
with a notice (POST → 303 → GET); the destructive ones are reached through a confirmation page
(a GET that says what will happen and holds the form). A refusal is shown in place, with what
was typed, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge.application import role_grants, signin_recovery, staff_cards, staff_lifecycle
from bridge.application.staff_cards import CardEdit, StaffView
from bridge.application.staff_lifecycle import DeactivationReason
from bridge.blocking import run_blocking
from bridge.routes.admin_common import (
    act_on_card,
    administrator,
    card_redirect,
    form_date,
    form_text,
    form_values,
    not_found,
    posted_on_card,
    refused_on_card,
    refused_on_page,
    shown_card,
    staff_policy,
)
from bridge.services.actors import Actor
from bridge.services.errors import DomainError, InvalidInput, NotFound
from bridge.services.moscow_time import moscow_today
from bridge.services.staff_cards import DEACTIVATION_REASON_TITLES, RoleView
from bridge.web.context import runtime_of
from bridge.web.templating import render


async def _confirmation(request: Request, template: str, **context: object) -> Response:
    """The GET of a form page about one person: their card and the form, nothing changed yet."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    view = await shown_card(request, actor, request.path_params["login"])
    if isinstance(view, Response):
        return view
    page = {"actor": actor, "card": view.card, "view": view, "values": {}, **context}
    return render(request, template, page)


# --- «Изменить данные» ------------------------------------------------------------------------


async def edit_page(request: Request) -> Response:
    if request.method == "GET":
        return await _confirmation(request, "admin/staff_edit.html")
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form = posted
    login = request.path_params["login"]
    # Every field as the form left it: an emptied field is cleared.
    edit = CardEdit(
        surname=form_text(form, "surname"), name=form_text(form, "name"), patronymic=form_text(form, "patronymic"),
        no_patronymic=form.get("no_patronymic") == "1", email=form_text(form, "email"),
        phone=form_text(form, "phone"), note=form_text(form, "note"),
    )
    try:
        saved = await run_blocking(
            staff_cards.edit_staff_card, runtime_of(request).db, actor, login, edit, staff_policy(request)
        )
    except DomainError as error:
        return await refused_on_page(
            request, actor, login, "admin/staff_edit.html", error, values=form_values(form), edited=True
        )
    return card_redirect(request, login, "edited" if saved.changed else "unchanged")


# --- a role: «Завершить», «Изменить даты» ------------------------------------------------------


def _role_of(view: StaffView, request: Request) -> RoleView | None:
    role_id = request.path_params["role_id"]
    return next((role for role in view.card.roles if role.id == role_id), None)


async def role_page(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    view = await shown_card(request, actor, request.path_params["login"])
    if isinstance(view, Response):
        return view
    role = _role_of(view, request)
    if role is None:
        return not_found(request, NotFound("unknown_role_assignment", "У сотрудника нет такой роли."))
    values = {
        "end_date": moscow_today().isoformat(), "start_date": role.start_date.isoformat(),
        "new_end_date": role.end_date.isoformat() if role.end_date else "",
    }
    page = {"actor": actor, "card": view.card, "view": view, "role": role, "values": values}
    return render(request, "admin/staff_role.html", page)


async def _refused_on_role(
    request: Request, actor: Actor, login: str, error: DomainError, values: dict[str, str]
) -> Response:
    view = await shown_card(request, actor, login)
    if isinstance(view, Response):
        return view
    role = _role_of(view, request)
    if role is None:
        return await refused_on_card(request, actor, login, error)
    page = {"actor": actor, "card": view.card, "view": view, "role": role, "values": values, "error": error.message}
    return render(request, "admin/staff_role.html", page, status_code=400)


async def end_role_action(request: Request) -> Response:
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form = posted
    login, role_id = request.path_params["login"], request.path_params["role_id"]
    try:
        end_date = form_date(form, "end_date", "Последний день роли", default=moscow_today())
        assert end_date is not None
        ended = await run_blocking(
            role_grants.end_role, runtime_of(request).db, actor, login, role_id, end_date, staff_policy(request)
        )
    except DomainError as error:
        return await _refused_on_role(request, actor, login, error, form_values(form))
    return card_redirect(request, login, "role_ended" if ended.changed else "role_unchanged")


async def role_dates_action(request: Request) -> Response:
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form = posted
    login, role_id = request.path_params["login"], request.path_params["role_id"]
    try:
        start = form_date(form, "start_date", "Начальная дата", default=None)
        if start is None:
            raise InvalidInput("start_date_required", "Укажите начальную дату.")
        end = form_date(form, "new_end_date", "Конечная дата", default=None)
        changed = await run_blocking(
            role_grants.change_role_dates, runtime_of(request).db, actor, login, role_id, start, end,
            staff_policy(request),
        )
    except DomainError as error:
        return await _refused_on_role(request, actor, login, error, form_values(form))
    return card_redirect(request, login, "role_dates" if changed.changed else "role_unchanged")


# --- «Заблокировать», «Разблокировать», «Отключить кабинет» ------------------------------------


async def block_page(request: Request) -> Response:
    if request.method == "GET":
        return await _confirmation(request, "admin/staff_block.html")
    return await _with_reason(request, staff_lifecycle.block_staff, "admin/staff_block.html", "blocked")


async def unblock_action(request: Request) -> Response:
    policy = staff_policy(request)
    return await act_on_card(
        request, lambda database, actor, login: staff_lifecycle.unblock_staff(database, actor, login, policy),
        "unblocked",
    )


async def deactivate_page(request: Request) -> Response:
    reasons = [(reason.value, DEACTIVATION_REASON_TITLES[reason]) for reason in DeactivationReason]
    retention_days = staff_policy(request).deactivated_retention.days
    if request.method == "GET":
        return await _confirmation(
            request, "admin/staff_deactivate.html", reasons=reasons, retention_days=retention_days
        )
    return await _with_reason(
        request, staff_lifecycle.deactivate_staff, "admin/staff_deactivate.html", "deactivated",
        reasons=reasons, retention_days=retention_days,
    )


async def _with_reason(
    request: Request, use_case: Callable[..., object], template: str, done: str, **context: Any
) -> Response:
    """A confirmed action on the card that takes the form's reason (block, deactivate): POST → redirect."""
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form = posted
    login = request.path_params["login"]
    try:
        await run_blocking(
            use_case, runtime_of(request).db, actor, login, form_text(form, "reason"), staff_policy(request)
        )
    except DomainError as error:
        return await refused_on_page(request, actor, login, template, error, values=form_values(form), **context)
    return card_redirect(request, login, done)


# --- «Отвязать», «Завершить сеансы» ----------------------------------------------------------


async def unbind_page(request: Request) -> Response:
    provider = request.path_params["provider"]
    if request.method == "GET":
        actor = await administrator(request)
        if isinstance(actor, Response):
            return actor
        view = await shown_card(request, actor, request.path_params["login"])
        if isinstance(view, Response):
            return view
        binding = next((binding for binding in view.card.bindings if binding.provider == provider), None)
        if binding is None:
            return not_found(request, NotFound("unknown_binding", "У сотрудника нет такой привязки."))
        page = {"actor": actor, "card": view.card, "view": view, "binding": binding}
        return render(request, "admin/staff_unbind.html", page)
    policy = staff_policy(request)
    return await act_on_card(
        request,
        lambda database, actor, login: signin_recovery.unbind_external_identity(
            database, actor, login, provider, policy
        ),
        "unbound",
    )


async def end_sessions_action(request: Request) -> Response:
    policy = staff_policy(request)
    return await act_on_card(
        request, lambda database, actor, login: signin_recovery.end_staff_sessions(database, actor, login, policy),
        "sessions_ended",
    )


routes: list[BaseRoute] = [
    Route("/admin/staff/{login}/edit", edit_page, methods=["GET", "POST"], name="admin_staff_edit"),
    Route("/admin/staff/{login}/roles/{role_id:id}", role_page, methods=["GET"], name="admin_staff_role"),
    Route(
        "/admin/staff/{login}/roles/{role_id:id}/end", end_role_action, methods=["POST"],
        name="admin_staff_end_role",
    ),
    Route(
        "/admin/staff/{login}/roles/{role_id:id}/dates", role_dates_action, methods=["POST"],
        name="admin_staff_role_dates",
    ),
    Route("/admin/staff/{login}/block", block_page, methods=["GET", "POST"], name="admin_staff_block"),
    Route("/admin/staff/{login}/unblock", unblock_action, methods=["POST"], name="admin_staff_unblock"),
    Route("/admin/staff/{login}/deactivate", deactivate_page, methods=["GET", "POST"], name="admin_staff_deactivate"),
    Route(
        "/admin/staff/{login}/bindings/{provider}/unbind", unbind_page, methods=["GET", "POST"],
        name="admin_staff_unbind",
    ),
    Route("/admin/staff/{login}/end-sessions", end_sessions_action, methods=["POST"], name="admin_staff_end_sessions"),
]
