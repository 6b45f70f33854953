"""Administration pages: new staff, staff cards, roles, resets, unlocks (the list: `admin_staff.py`).

HTTP only: each handler reads the form, calls one use case of `bridge/application/` (in a thread:
argon2 hashing is deliberately slow) and renders what it returns. Who may do what is decided
there, the same for these pages and for `bridge staff ...`. The card's other actions (edit, roles'
dates, block, deactivate, unbind, end sessions) are `bridge/routes/admin_lifecycle.py`.

A one-time password is never rendered into the POST that issued it: the POST parks it for this
browser, sealed (`application/credential_slips.py`), and redirects; the GET that follows shows it
once, as a printable slip. A refresh of that page finds nothing and issues nothing.
"""

from __future__ import annotations

import re
from datetime import date

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import credential_slips, role_grants, signin_recovery, staff_registry
from bridge.application.credential_slips import CredentialSlip, SlipOccasion
from bridge.application.role_grants import RoleGrant
from bridge.application.staff_registry import NewStaff
from bridge.blocking import run_blocking
from bridge.routes.admin_common import (
    NOTICES,
    act_on_card,
    administrator,
    card_redirect,
    form_date,
    form_text,
    form_values,
    posted_on_card,
    refused_on_card,
    refused_on_page,
    render_card,
    shown_card,
    staff_policy,
)
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError, InvalidInput
from bridge.web.browser import browser_id
from bridge.web.context import runtime_of, settings_of
from bridge.web.numbers import record_number
from bridge.web.templating import render
from bridge.web.urls import path_for

# --- form parsing ----------------------------------------------------------------------------


def _form_grant(form: FormData) -> RoleGrant:
    organization_id = record_number(form_text(form, "organization_id"))
    if organization_id is None:
        raise InvalidInput("organization_required", "Выберите организацию.")
    role = form_text(form, "role")
    if not role:
        raise InvalidInput("role_required", "Выберите роль.")
    start = form_date(form, "start_date", "Начальная дата", default=date.today())
    assert start is not None
    return RoleGrant(
        organization_id, role, start, form_date(form, "end_date", "Конечная дата", default=None),
        position=form_text(form, "position") or None,
    )


def _form_new_staff(form: FormData) -> NewStaff:
    return NewStaff(
        surname=form_text(form, "surname"),
        name=form_text(form, "name"),
        patronymic=form_text(form, "patronymic") or None,
        no_patronymic=form.get("no_patronymic") == "1",
        grant=_form_grant(form),
        snils=form_text(form, "snils") or None,
        email=form_text(form, "email") or None,
        note=form_text(form, "note") or None,
        phone=form_text(form, "phone") or None,
    )


# --- the one-time password -------------------------------------------------------------------


async def _show_once(
    request: Request, credential: IssuedCredential, staff_id: int, full_name: str, occasion: SlipOccasion,
    *, notice: str = "", then_list: bool = False,
) -> Response:
    """Park the password for this browser and send it to the page that shows it, once."""
    slip = CredentialSlip(
        credential=credential, staff_id=staff_id, full_name=full_name, occasion=occasion, notice=notice,
        then_list=then_list,
    )
    slip_id = await run_blocking(
        credential_slips.keep_credential_slip, runtime_of(request).db, browser_id(request), slip
    )
    target = path_for(request, "admin_staff_credential", login=credential.login, slip=slip_id)
    return RedirectResponse(target, status_code=303)


async def credential_slip(request: Request) -> Response:
    """The login, password, expiry and how to sign in, once; printable. A refresh shows it no more."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    login = request.path_params["login"]
    slip = await run_blocking(
        credential_slips.take_credential_slip, runtime_of(request).db, browser_id(request), request.path_params["slip"]
    )
    if slip is not None and slip.credential.login != login:
        slip = None
    settings = settings_of(request)
    context = {
        "actor": actor, "login": login, "slip": slip,
        "signin_url": settings.public_url + path_for(request, "login"),
    }
    return render(request, "admin/credential_slip.html", context, status_code=200 if slip else 410)


# --- pages -----------------------------------------------------------------------------------


async def new_staff(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    choices = await run_blocking(role_grants.issuing_choices, database, actor)
    if request.method == "GET":
        values = {"start_date": date.today().isoformat()}
        return render(request, "admin/staff_new.html", {"actor": actor, "choices": choices, "values": values})

    form = await request.form()
    values = form_values(form)
    try:
        registered = await run_blocking(
            staff_registry.register_staff, database, actor, _form_new_staff(form), staff_policy(request)
        )
    except DomainError as error:
        context = {"actor": actor, "choices": choices, "values": values, "error": error.message}
        return render(request, "admin/staff_new.html", context, status_code=400)
    card = registered.staff.card
    return await _show_once(
        request, registered.credential, card.id, card.full_name, SlipOccasion.REGISTERED,
        then_list=form.get("action") == "save_close",
    )


async def staff_page(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    view = await shown_card(request, actor, request.path_params["login"])
    if isinstance(view, Response):
        return view
    choices = await run_blocking(role_grants.issuing_choices, runtime_of(request).db, actor)
    return render_card(request, actor, choices, view, notice=NOTICES.get(request.query_params.get("done", "")))


async def add_role_action(request: Request) -> Response:
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, form = posted
    login = request.path_params["login"]
    try:
        added = await run_blocking(
            role_grants.add_role, runtime_of(request).db, actor, login, _form_grant(form), staff_policy(request)
        )
    except DomainError as error:
        return await refused_on_card(request, actor, login, error, values=form_values(form))
    if added.credential is None:
        return card_redirect(request, login, "role_added")
    card = added.staff.card
    notice = f"Роль «{added.role.title}» добавлена; это первая учётная запись сотрудника."
    return await _show_once(request, added.credential, card.id, card.full_name, SlipOccasion.ROLE_ADDED, notice=notice)


async def reset_password_action(request: Request) -> Response:
    """«Сбросить пароль»: GET asks to confirm; POST resets and redirects to the slip, shown once."""
    if request.method == "GET":
        actor = await administrator(request)
        if isinstance(actor, Response):
            return actor
        view = await shown_card(request, actor, request.path_params["login"])
        if isinstance(view, Response):
            return view
        return render(request, "admin/staff_reset.html", {"actor": actor, "card": view.card, "view": view})
    posted = await posted_on_card(request)
    if isinstance(posted, Response):
        return posted
    actor, _ = posted
    login = request.path_params["login"]
    try:
        reset = await run_blocking(
            signin_recovery.reset_password, runtime_of(request).db, actor, login, staff_policy(request)
        )
    except DomainError as error:
        return await refused_on_page(request, actor, login, "admin/staff_reset.html", error)
    retirement = reset.retirement
    notice = (
        f"Пароль сброшен. Привязок к внешним учётным записям удалено: {retirement.bindings_removed}, "
        f"сеансов завершено: {retirement.sessions_ended}. При следующем входе сотрудник заново "
        "привяжет учётную запись."
    )
    card = reset.staff.card
    return await _show_once(request, reset.credential, card.id, card.full_name, SlipOccasion.RESET, notice=notice)


async def unlock_action(request: Request) -> Response:
    """«Снять блокировку входа»: POST, then back to the card (GET), which shows the counters as they are."""
    return await act_on_card(request, signin_recovery.unlock_password_signin, "unlocked")


# --- «Заявки»: registration requests and activation links ----------------------------------------

_LOGIN_SHAPE = re.compile(r"[a-z0-9_]{1,100}")


routes: list[BaseRoute] = [
    Route("/admin/staff/new", new_staff, methods=["GET", "POST"], name="admin_staff_new"),
    Route("/admin/staff/{login}", staff_page, methods=["GET"], name="admin_staff_card"),
    Route("/admin/staff/{login}/roles", add_role_action, methods=["POST"], name="admin_staff_add_role"),
    Route(
        "/admin/staff/{login}/reset-password", reset_password_action, methods=["GET", "POST"],
        name="admin_staff_reset_password",
    ),
    Route("/admin/staff/{login}/password/{slip}", credential_slip, methods=["GET"], name="admin_staff_credential"),
    Route("/admin/staff/{login}/unlock", unlock_action, methods=["POST"], name="admin_staff_unlock"),
]
