"""«Загрузить из таблицы»: upload → the dry run's per-row report → «Загрузить» → the list.

The upload is checked for size before it is parsed; a clean file's rows are parked on the server
(`application/staff_import.py`) and the confirmation form carries only their random id, so what is
imported is what was checked, once, for the administrator who checked it.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import staff_import
from bridge.application.registration import ActivationLinks
from bridge.application.staff_import import ImportLimits
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator
from bridge.services.actors import Actor
from bridge.services.errors import DomainError
from bridge.web.browser import browser_id
from bridge.web.context import runtime_of, settings_of
from bridge.web.numbers import record_number
from bridge.web.templating import render
from bridge.web.urls import path_for

# What the list says after an import, by the code its redirect carries.
DONE = "imported"


def _limits(request: Request) -> ImportLimits:
    settings = settings_of(request)
    return ImportLimits(max_bytes=settings.staff_import_max_bytes, max_rows=settings.staff_import_max_rows)


def _links(request: Request) -> ActivationLinks:
    return ActivationLinks(settings_of(request).public_url + path_for(request, "activate"))


def _page(request: Request, actor: Actor, status_code: int = 200, **context: object) -> Response:
    limits = _limits(request)
    base = {"actor": actor, "max_megabytes": limits.max_bytes // (1024 * 1024), "max_rows": limits.max_rows}
    return render(request, "admin/staff_import.html", base | context, status_code=status_code)


async def import_page(request: Request) -> Response:
    """GET: the form and the file's format. POST: the dry run of the uploaded file."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    if request.method == "GET":
        return _page(request, actor)
    limits = _limits(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes + 64 * 1024:
        return _page(request, actor, 413, error=f"Файл больше {limits.max_bytes // (1024 * 1024)} МБ.")
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, actor, 400, error="Выберите файл XLSX или CSV.")
    content = await upload.read(limits.max_bytes + 1)
    try:
        report = await run_blocking(
            staff_import.prepare_import, runtime_of(request).db, actor, upload.filename, content, limits,
            browser_id=browser_id(request),
        )
    except DomainError as error:
        return _page(request, actor, 400, error=error.message)
    return _page(request, actor, 200 if report.import_id else 400, report=report, filename=upload.filename)


async def confirm_import(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    import_id = str(form.get("import_id", ""))
    try:
        done = await run_blocking(
            staff_import.confirm_import, runtime_of(request).db, actor, browser_id(request), import_id, _links(request)
        )
    except DomainError as error:
        return _page(request, actor, 400, error=error.message)
    query = {"done": DONE, "count": str(done.registered), "mailed": str(done.mailed)}
    return RedirectResponse(path_for(request, "admin_staff_import_done", query=query), status_code=303)


async def import_done(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    count = request.query_params.get("count", "")
    mailed = request.query_params.get("mailed", "")
    done = {"count": record_number(count) or 0, "mailed": record_number(mailed) or 0}
    return _page(request, actor, done=done)


routes: list[BaseRoute] = [
    Route("/admin/staff-import", import_page, methods=["GET", "POST"], name="admin_staff_import"),
    Route("/admin/staff-import/confirm", confirm_import, methods=["POST"], name="admin_staff_import_confirm"),
    Route("/admin/staff-import/done", import_done, methods=["GET"], name="admin_staff_import_done"),
]
