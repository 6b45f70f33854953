"""«Заявки на подключение» for administrators: the requests they may decide, approve, reject, resend a link.

The decisions are use cases of `bridge/application/registration.py`; these handlers parse, call and
redirect (POST → 303 → GET) like the staff pages (`admin_common.py`).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import registration
from bridge.application.registration import ActivationLinks
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator, form_text
from bridge.services.actors import Actor
from bridge.services.errors import DomainError, NotFound
from bridge.services.moscow_time import moscow_datetime
from bridge.web.context import runtime_of, settings_of
from bridge.web.numbers import record_number
from bridge.web.templating import render
from bridge.web.urls import path_for

# What a login looks like (services/logins.py): only such a value is echoed in a notice.
_LOGIN_SHAPE = re.compile(r"[a-z0-9_]{1,100}")


def _activation_links(request: Request) -> ActivationLinks:
    """The mailed link's page, at the bridge's public address (not the Host this request came with)."""
    return ActivationLinks(settings_of(request).public_url + path_for(request, "activate"))


def _requests_notice(request: Request) -> str | None:
    """The result of the action this page was redirected from (POST → redirect → GET)."""
    done = request.query_params.get("done")
    number = request.query_params.get("request", "")
    login = request.query_params.get("login", "")
    if done == "approved" and record_number(number) is not None:
        return f"Заявка №{number} одобрена, заявителю отправлено письмо."
    if done == "rejected" and record_number(number) is not None:
        return f"Заявка №{number} отклонена, заявителю отправлено письмо с причиной."
    if done == "resent" and _LOGIN_SHAPE.fullmatch(login):
        return f"Новая ссылка для входа отправлена сотруднику {login}; прежние ссылки больше не действуют."
    return None


async def _render_requests(
    request: Request, actor: Actor, *, error: str | None = None, status_code: int = 200
) -> Response:
    database = runtime_of(request).db
    pending = await run_blocking(registration.list_pending_requests, database, actor)
    awaiting = await run_blocking(registration.list_awaiting_activation, database, actor)
    context = {
        "actor": actor, "pending": pending, "awaiting": awaiting, "error": error,
        "notice": None if error else _requests_notice(request), "moscow": moscow_datetime,
    }
    return render(request, "admin/requests.html", context, status_code=status_code)


def _request_refusal_status(error: DomainError) -> int:
    return 404 if isinstance(error, NotFound) else 400


async def requests_page(request: Request) -> Response:
    """«Заявки»: the requests this administrator may decide, and people still to follow their link."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _render_requests(request, actor)


async def approve_request_action(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    request_id: int = request.path_params["request_id"]
    try:
        await run_blocking(
            lambda: registration.approve_request(
                runtime_of(request).db, actor, request_id, form_text(form, "role"), _activation_links(request),
                existing_login=form_text(form, "existing_login") or None,
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
    pending = await run_blocking(registration.list_pending_requests, runtime_of(request).db, actor)
    found = next((view for view in pending if view.id == request_id), None)
    if found is None:
        message = "Заявка не найдена, по ней уже принято решение или её решает другой администратор."
        return render(request, "error.html", {"title": "Заявка не найдена", "message": message}, status_code=404)
    context = {"actor": actor, "view": found, "reason": reason, "error": error, "moscow": moscow_datetime}
    return render(request, "admin/request_reject.html", context, status_code=status_code)


async def reject_request_page(request: Request) -> Response:
    """The confirmation step of «Отклонить»: the request once more, and the reason the person will read."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _reject_page(request, actor, request.path_params["request_id"])


async def reject_request_action(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    request_id: int = request.path_params["request_id"]
    reason = form_text(form, "reason")
    try:
        await run_blocking(registration.reject_request, runtime_of(request).db, actor, request_id, reason)
    except NotFound as error:
        return render(request, "error.html", {"title": "Заявка не найдена", "message": error.message}, status_code=404)
    except DomainError as error:
        return await _reject_page(request, actor, request_id, reason=reason, error=error.message, status_code=400)
    return RedirectResponse(
        path_for(request, "admin_requests", query={"done": "rejected", "request": str(request_id)}), status_code=303
    )


async def resend_activation_action(request: Request) -> Response:
    """«Выслать ссылку повторно»: a new activation link by mail; the administrator never sees it."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    login = request.path_params["login"]
    try:
        await run_blocking(
            registration.resend_activation, runtime_of(request).db, actor, login, _activation_links(request)
        )
    except DomainError as error:
        return await _render_requests(request, actor, error=error.message, status_code=_request_refusal_status(error))
    return RedirectResponse(
        path_for(request, "admin_requests", query={"done": "resent", "login": login}), status_code=303
    )


routes: list[BaseRoute] = [
    Route("/admin/requests", requests_page, methods=["GET"], name="admin_requests"),
    Route(
        "/admin/requests/{request_id:id}/approve", approve_request_action, methods=["POST"],
        name="admin_request_approve",
    ),
    Route(
        "/admin/requests/{request_id:id}/reject", reject_request_page, methods=["GET"],
        name="admin_request_reject_confirm",
    ),
    Route(
        "/admin/requests/{request_id:id}/reject", reject_request_action, methods=["POST"],
        name="admin_request_reject",
    ),
    Route(
        "/admin/staff/{login}/activation-link", resend_activation_action, methods=["POST"],
        name="admin_staff_resend_activation",
    ),
]
