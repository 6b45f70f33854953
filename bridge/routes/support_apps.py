"""Technical support's relying apps and signing keys: the pages of `bridge client ...` and `bridge keys ...`.

HTTP only, the same use cases as the CLI (`application/relying_apps.py`, `signing_keys.py`), which
decide who may. A client secret is never rendered into the POST that made it: the POST parks it
for this browser, sealed (`application/credential_slips.py`), and redirects; the GET shows it once
and a refresh answers «уже был показан». Disabling an app and rotating the keys ask first.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import credential_slips, relying_apps, signing_keys
from bridge.application.credential_slips import SecretSlip
from bridge.application.relying_apps import NewRelyingApp, RelyingApp
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator, forbidden, form_text, form_values
from bridge.services.actors import Actor
from bridge.services.errors import DomainError, NotFound, PermissionDenied
from bridge.services.signing_keys import DEFAULT_PUBLISH_AFTER_ROTATION, SUPPORTED_ALGORITHMS, KeyState
from bridge.web.browser import browser_id
from bridge.web.context import runtime_of, settings_of
from bridge.web.templating import render
from bridge.web.urls import path_for

NOTICES = {
    "disabled": "Приложение отключено: входить через него нельзя, его токены обновления отозваны.",
    "uris": "Адреса возврата сохранены.",
    "rotated": "Новые ключи подписывают токены; прежние остаются опубликованными "
    f"{DEFAULT_PUBLISH_AFTER_ROTATION.days} дн.",
}
KEY_STATES = {KeyState.ACTIVE: "подписывает", KeyState.PUBLISHED: "опубликован", KeyState.DROPPED: "снят"}


def _lines(form: FormData, name: str) -> tuple[str, ...]:
    """One address per line of a textarea."""
    return tuple(line.strip() for line in form_text(form, name).splitlines() if line.strip())


def _refused(request: Request, error: DomainError) -> Response:
    if isinstance(error, NotFound):
        return render(request, "error.html", {"title": "Приложение не найдено", "message": error.message},
                      status_code=404)
    return forbidden(request, error.message)


async def _opened_app(request: Request) -> tuple[Actor, RelyingApp] | Response:
    """The signed-in administrator and the app the path names, under support's rule; or the refusal."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    try:
        app = await run_blocking(
            relying_apps.show_relying_app, runtime_of(request).db, actor, request.path_params["client_id"]
        )
    except DomainError as error:
        return _refused(request, error)
    return actor, app


async def _show_secret_once(request: Request, client_id: str, secret: str) -> Response:
    slip_id = await run_blocking(
        credential_slips.keep_secret_slip, runtime_of(request).db, browser_id(request),
        SecretSlip(client_id=client_id, secret=secret),
    )
    return RedirectResponse(path_for(request, "support_app_secret_slip", client_id=client_id, slip=slip_id),
                            status_code=303)


async def apps(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    try:
        found = await run_blocking(relying_apps.list_relying_apps, runtime_of(request).db, actor)
    except DomainError as error:
        return forbidden(request, error.message)
    notice = NOTICES.get(request.query_params.get("done", ""))
    return render(request, "support/apps.html", {"actor": actor, "apps": found, "notice": notice})


async def new_app(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    if request.method == "GET":
        try:
            await run_blocking(relying_apps.list_relying_apps, database, actor)
        except DomainError as error:
            return forbidden(request, error.message)
        return render(request, "support/app_new.html", {"actor": actor, "values": {}})
    form = await request.form()
    new = NewRelyingApp(
        name=form_text(form, "name"), redirect_uris=_lines(form, "redirect_uris"),
        post_logout_redirect_uris=_lines(form, "post_logout_redirect_uris"), public=form.get("public") == "1",
    )
    try:
        registered = await run_blocking(
            relying_apps.register_relying_app, database, actor, new, secret_key=settings_of(request).secret_key
        )
    except PermissionDenied as error:
        return forbidden(request, error.message)
    except DomainError as error:
        context = {"actor": actor, "values": form_values(form), "error": error.message}
        return render(request, "support/app_new.html", context, status_code=400)
    client_id = registered.app.client_id
    if registered.client_secret is None:
        return RedirectResponse(path_for(request, "support_app", client_id=client_id), status_code=303)
    return await _show_secret_once(request, client_id, registered.client_secret)


async def app_page(request: Request) -> Response:
    """The app's card: its addresses (editable), a new secret, disabling."""
    opened = await _opened_app(request)
    if isinstance(opened, Response):
        return opened
    actor, app = opened
    client_id, database = app.client_id, runtime_of(request).db
    context = {"actor": actor, "app": app, "notice": NOTICES.get(request.query_params.get("done", ""))}
    if request.method == "GET":
        return render(request, "support/app.html", context)
    form = await request.form()
    try:
        await run_blocking(
            relying_apps.change_redirect_uris, database, actor, client_id, _lines(form, "redirect_uris"),
            _lines(form, "post_logout_redirect_uris"),
        )
    except DomainError as error:
        values = form_values(form)
        return render(request, "support/app.html", {**context, "error": error.message, "values": values},
                      status_code=400)
    return RedirectResponse(path_for(request, "support_app", client_id=client_id, query={"done": "uris"}),
                            status_code=303)


async def renew_secret(request: Request) -> Response:
    """«Выдать новый секрет»: GET asks to confirm (the old secret stops working); POST renews."""
    opened = await _opened_app(request)
    if isinstance(opened, Response):
        return opened
    actor, app = opened
    client_id, database = app.client_id, runtime_of(request).db
    if request.method == "GET":
        return render(request, "support/app_confirm.html", {"actor": actor, "app": app, "action": "secret"})
    try:
        renewed = await run_blocking(
            relying_apps.renew_client_secret, database, actor, client_id, secret_key=settings_of(request).secret_key
        )
    except DomainError as error:
        context = {"actor": actor, "app": app, "action": "secret", "error": error.message}
        return render(request, "support/app_confirm.html", context, status_code=400)
    return await _show_secret_once(request, client_id, renewed.client_secret)


async def secret_slip(request: Request) -> Response:
    """The secret, once; a refresh finds nothing and makes no new one."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    client_id = request.path_params["client_id"]
    database = runtime_of(request).db
    try:
        # Support's rule first: a slip read in a browser that someone else signed into stays where it is.
        await run_blocking(relying_apps.show_relying_app, database, actor, client_id)
    except DomainError as error:
        return _refused(request, error)
    slip = await run_blocking(
        credential_slips.take_secret_slip, database, browser_id(request), request.path_params["slip"]
    )
    if slip is not None and slip.client_id != client_id:
        slip = None
    context = {"actor": actor, "client_id": client_id, "slip": slip}
    return render(request, "support/app_secret.html", context, status_code=200 if slip else 410)


async def disable_app(request: Request) -> Response:
    opened = await _opened_app(request)
    if isinstance(opened, Response):
        return opened
    actor, app = opened
    client_id, database = app.client_id, runtime_of(request).db
    if request.method == "GET":
        return render(request, "support/app_confirm.html", {"actor": actor, "app": app, "action": "disable"})
    try:
        await run_blocking(relying_apps.disable_relying_app, database, actor, client_id)
    except DomainError as error:
        return _refused(request, error)
    return RedirectResponse(path_for(request, "support_apps", query={"done": "disabled"}), status_code=303)


async def keys(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    try:
        found = await run_blocking(signing_keys.list_signing_keys, runtime_of(request).db, actor)
    except DomainError as error:
        return forbidden(request, error.message)
    context = {"actor": actor, "keys": found, "states": KEY_STATES,
               "notice": NOTICES.get(request.query_params.get("done", ""))}
    return render(request, "support/keys.html", context)


async def rotate_keys(request: Request) -> Response:
    """«Сменить ключи сейчас»: GET asks to confirm, POST rotates every algorithm's key."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    keep = DEFAULT_PUBLISH_AFTER_ROTATION
    if request.method == "GET":
        try:
            await run_blocking(signing_keys.list_signing_keys, database, actor)
        except DomainError as error:
            return forbidden(request, error.message)
        return render(request, "support/keys_rotate.html", {"actor": actor, "keep_days": keep.days})
    try:
        await run_blocking(
            signing_keys.rotate_signing_keys, database, actor, SUPPORTED_ALGORITHMS,
            keyring=runtime_of(request).signing_keys.keyring, keep_published=timedelta(days=keep.days),
        )
    except DomainError as error:
        return forbidden(request, error.message)
    return RedirectResponse(path_for(request, "support_keys", query={"done": "rotated"}), status_code=303)


routes: list[BaseRoute] = [
    Route("/support/apps", apps, methods=["GET"], name="support_apps"),
    Route("/support/apps/new", new_app, methods=["GET", "POST"], name="support_app_new"),
    Route("/support/apps/{client_id}", app_page, methods=["GET", "POST"], name="support_app"),
    Route("/support/apps/{client_id}/secret", renew_secret, methods=["GET", "POST"], name="support_app_secret"),
    Route("/support/apps/{client_id}/secret/{slip}", secret_slip, methods=["GET"], name="support_app_secret_slip"),
    Route("/support/apps/{client_id}/disable", disable_app, methods=["GET", "POST"], name="support_app_disable"),
    Route("/support/keys", keys, methods=["GET"], name="support_keys"),
    Route("/support/keys/rotate", rotate_keys, methods=["GET", "POST"], name="support_keys_rotate"),
]
