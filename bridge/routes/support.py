"""«Обращение в техническую службу»: the public «Не могу войти» form and support's queue pages.

HTTP only: bridge/application/support_queue.py holds the rules. The public form answers with one
calm page whatever was filed; support's pages are for a signed-in person acting in the
«Техническая поддержка» role (the use cases refuse anyone else). Every action is POST → 303 → GET;
a reset or a deactivation is confirmed first.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import credential_slips, support_queue
from bridge.application.credential_slips import CredentialSlip, SlipOccasion
from bridge.application.registration import ActivationLinks
from bridge.application.support_queue import CannotSignInForm, SupportOutcome, SupportResolution
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator, forbidden, form_text, staff_policy
from bridge.services.errors import DomainError, NotFound, PermissionDenied
from bridge.services.registration_requests import RequestsThrottled
from bridge.web.browser import browser_id
from bridge.web.context import client_address, runtime_of, settings_of
from bridge.web.templating import render
from bridge.web.urls import path_for

NOTICES = {"closed": "Обращение закрыто, человеку отправлено письмо с результатом."}
CONFIRMATIONS = {
    SupportOutcome.PASSWORD_RESET: (
        "Сбросить пароль?", "Привязки к Госуслугам и РСАА будут удалены, все сеансы завершатся; новый пароль "
        "будет показан один раз — передайте его человеку лично или через его администратора.",
    ),
    SupportOutcome.DEACTIVATED: (
        "Отключить кабинет?", "Войти будет нельзя; персональные данные удалят по истечении срока хранения.",
    ),
}


def _values(form: FormData) -> dict[str, Any]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


# --- the public form ---------------------------------------------------------------------------


async def cannot_sign_in_page(request: Request) -> Response:
    return render(request, "support/cannot_sign_in.html", {"values": {}, "error": None})


async def submit_cannot_sign_in(request: Request) -> Response:
    form = await request.form()
    submitted = CannotSignInForm(
        full_name=form_text(form, "full_name"), organization=form_text(form, "organization"),
        email=form_text(form, "email"), message=str(form.get("message", "")),
    )
    try:
        await run_blocking(
            support_queue.submit_cannot_sign_in, runtime_of(request).db, client_address(request), submitted
        )
    except DomainError as refusal:
        status = 429 if isinstance(refusal, RequestsThrottled) else 400
        context = {"values": _values(form), "error": refusal.message}
        return render(request, "support/cannot_sign_in.html", context, status_code=status)
    return RedirectResponse(path_for(request, "support_cannot_sign_in_sent"), status_code=303)


async def sent_page(request: Request) -> Response:
    return render(request, "support/sent.html")


# --- support's queue ---------------------------------------------------------------------------


def _refused(request: Request, refusal: DomainError) -> Response:
    if isinstance(refusal, PermissionDenied):
        return forbidden(request, refusal.message)
    status = 404 if isinstance(refusal, NotFound) else 400
    return render(request, "error.html", {"title": "Обращение", "message": refusal.message}, status_code=status)


async def queue_page(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    include_closed = request.query_params.get("all") == "1"
    try:
        items = await run_blocking(
            lambda: support_queue.list_support_queue(runtime_of(request).db, actor, include_closed=include_closed)
        )
    except DomainError as refusal:
        return _refused(request, refusal)
    context = {"actor": actor, "items": items, "include_closed": include_closed,
               "notice": NOTICES.get(request.query_params.get("done", ""))}
    return render(request, "support/queue.html", context)


async def _item_page(request: Request, item_id: int, *, error: str | None = None, status_code: int = 200) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    try:
        item = await run_blocking(support_queue.show_support_request, runtime_of(request).db, actor, item_id)
    except DomainError as refusal:
        return _refused(request, refusal)
    return render(request, "support/item.html", {"actor": actor, "item": item, "error": error},
                  status_code=status_code)


async def item_page(request: Request) -> Response:
    return await _item_page(request, request.path_params["item_id"])


async def resolve_action(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    item_id: int = request.path_params["item_id"]
    database = runtime_of(request).db
    try:
        outcome = SupportOutcome(form_text(form, "outcome"))
    except ValueError:
        return await _item_page(request, item_id, error="Выберите, что сделать.", status_code=400)
    resolution = SupportResolution(outcome=outcome, login=form_text(form, "login") or None,
                                   note=form_text(form, "note") or None)
    if outcome in CONFIRMATIONS and form.get("confirmed") != "1":
        try:
            item = await run_blocking(support_queue.show_support_request, database, actor, item_id)
        except DomainError as refusal:
            return _refused(request, refusal)
        question, consequence = CONFIRMATIONS[outcome]
        context = {"item": item, "question": question, "consequence": consequence, "outcome": outcome.value,
                   "login": item.login or resolution.login or "", "note": resolution.note or "", "actor": actor}
        return render(request, "support/confirm.html", context)
    links = ActivationLinks(settings_of(request).public_url + path_for(request, "activate"))
    try:
        resolved = await run_blocking(
            lambda: support_queue.resolve_support_request(
                database, actor, item_id, resolution, policy=staff_policy(request), links=links
            )
        )
    except PermissionDenied as refusal:
        return forbidden(request, refusal.message)
    except NotFound as refusal:
        return await _item_page(request, item_id, error=refusal.message, status_code=404)
    except DomainError as refusal:
        return await _item_page(request, item_id, error=refusal.message, status_code=400)
    if resolved.credential is not None and resolved.staff_id is not None:
        # The one-time password is shown to support once, on the slip page, like after any reset.
        slip = CredentialSlip(
            credential=resolved.credential, staff_id=resolved.staff_id, full_name=resolved.staff_name,
            occasion=SlipOccasion.RESET, notice=NOTICES["closed"],
        )
        slip_id = await run_blocking(credential_slips.keep_credential_slip, database, browser_id(request), slip)
        return RedirectResponse(
            path_for(request, "admin_staff_credential", login=resolved.credential.login, slip=slip_id), status_code=303
        )
    return RedirectResponse(path_for(request, "support_queue", query={"done": "closed"}), status_code=303)


routes: list[BaseRoute] = [
    Route("/support/cannot-sign-in", cannot_sign_in_page, methods=["GET"], name="support_cannot_sign_in"),
    Route("/support/cannot-sign-in", submit_cannot_sign_in, methods=["POST"], name="support_cannot_sign_in_submit"),
    Route("/support/cannot-sign-in/sent", sent_page, methods=["GET"], name="support_cannot_sign_in_sent"),
    Route("/support/queue", queue_page, methods=["GET"], name="support_queue"),
    Route("/support/queue/{item_id:id}", item_page, methods=["GET"], name="support_queue_item"),
    Route("/support/queue/{item_id:id}/resolve", resolve_action, methods=["POST"], name="support_queue_resolve"),
]
