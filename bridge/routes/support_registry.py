"""Technical support's registry of organizations: search, add, edit, import from a table.

HTTP only: each handler calls the use case `bridge org ...` calls (`application/organizations.py`),
which decides who may (technical support); a refusal is the 403 page, a wrong form is shown again
with its message. Every change is POST → 303 → GET.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import organizations
from bridge.application.organizations import NewOrganization, RegistryStatus
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator, forbidden, form_text, form_values
from bridge.services.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from bridge.services.organization_import import MAX_IMPORT_BYTES, read_spreadsheet
from bridge.services.roles import ORGANIZATION_KIND_TITLES
from bridge.web.context import runtime_of
from bridge.web.numbers import record_number
from bridge.web.templating import render
from bridge.web.urls import path_for

NOTICES = {
    "created": "Организация добавлена в реестр.",
    "saved": "Изменения сохранены.",
    "imported": "Организации из таблицы добавлены в реестр.",
}
REGISTRY_STATUS_TITLES = {RegistryStatus.ACTIVE: "в реестре", RegistryStatus.EXCLUDED: "исключена из реестра"}


def _form_organization(form: FormData) -> NewOrganization:
    parent = form_text(form, "parent_id")
    if parent and record_number(parent) is None:
        raise InvalidInput("invalid_parent", "«Вышестоящая организация»: укажите её номер в реестре.")
    return NewOrganization(
        name=form_text(form, "name"), kind=form_text(form, "kind"), district=form_text(form, "district") or None,
        inn=form_text(form, "inn") or None, ogrn=form_text(form, "ogrn") or None,
        parent_id=record_number(parent),
    )


def _page(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> Response:
    common = {"kinds": ORGANIZATION_KIND_TITLES, "statuses": REGISTRY_STATUS_TITLES}
    return render(request, template, {**common, **context}, status_code=status_code)


async def registry(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    query = request.query_params.get("q", "").strip()[:200]
    try:
        found = await run_blocking(organizations.search_registry, runtime_of(request).db, actor, query)
    except DomainError as error:
        return forbidden(request, error.message)
    notice = NOTICES.get(request.query_params.get("done", ""))
    context = {"actor": actor, "found": found, "query": query, "notice": notice,
               "limit": organizations.REGISTRY_PAGE}
    return _page(request, "support/organizations.html", context)


async def new_organization(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    if request.method == "GET":
        try:
            await run_blocking(organizations.require_registry_keeper, database, actor)
        except DomainError as error:
            return forbidden(request, error.message)
        return _page(request, "support/organization_form.html", {"actor": actor, "values": {}, "organization": None})
    form = await request.form()
    try:
        created = await run_blocking(organizations.create_organization, database, actor, _form_organization(form))
    except PermissionDenied as error:
        return forbidden(request, error.message)
    except DomainError as error:
        context = {"actor": actor, "values": form_values(form), "organization": None, "error": error.message}
        return _page(request, "support/organization_form.html", context, status_code=400)
    return RedirectResponse(path_for(request, "support_organizations", query={"q": str(created.id), "done": "created"}),
                            status_code=303)


async def edit_organization(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    organization_id: int = request.path_params["organization_id"]
    try:
        current = await run_blocking(organizations.show_organization, database, actor, organization_id)
    except NotFound as error:
        return render(request, "error.html", {"title": "Организация не найдена", "message": error.message},
                      status_code=404)
    except DomainError as error:
        return forbidden(request, error.message)
    if request.method == "GET":
        values = {
            "name": current.name, "kind": current.kind.value, "district": current.district or "",
            "inn": current.inn or "", "ogrn": current.ogrn or "", "parent_id": current.parent_id or "",
            "registry_status": current.registry_status.value,
        }
        return _page(request, "support/organization_form.html",
                     {"actor": actor, "values": values, "organization": current})
    form = await request.form()
    try:
        status = RegistryStatus(form_text(form, "registry_status") or current.registry_status)
    except ValueError:
        status = current.registry_status
    try:
        await run_blocking(
            organizations.edit_organization, database, actor, organization_id, _form_organization(form), status
        )
    except DomainError as error:
        context = {"actor": actor, "values": form_values(form), "organization": current, "error": error.message}
        return _page(request, "support/organization_form.html", context, status_code=400)
    return RedirectResponse(path_for(request, "support_organizations", query={"q": str(organization_id),
                                                                              "done": "saved"}), status_code=303)


async def import_organizations(request: Request) -> Response:
    """«Загрузить из таблицы»: «Проверить» reports every row and adds nothing; «Загрузить» adds all
    the rows or, if any is wrong, none (and reports them)."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    database = runtime_of(request).db
    if request.method == "GET":
        try:
            await run_blocking(organizations.require_registry_keeper, database, actor)
        except DomainError as error:
            return forbidden(request, error.message)
        return _page(request, "support/organization_import.html", {"actor": actor, "report": None})
    async with request.form(max_files=1, max_part_size=MAX_IMPORT_BYTES + 1) as form:
        upload = form.get("file")
        dry_run = form.get("action") != "import"
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("import_file_required", "Выберите файл таблицы (CSV или XLSX).")
            content = await upload.read(MAX_IMPORT_BYTES + 1)
            rows = await run_blocking(read_spreadsheet, upload.filename, content)
            report = await run_blocking(
                organizations.import_organizations, database, actor, rows, dry_run=dry_run
            )
        except PermissionDenied as error:
            return forbidden(request, error.message)
        except DomainError as error:
            refused = {"actor": actor, "report": None, "error": error.message}
            return _page(request, "support/organization_import.html", refused, status_code=400)
    if report.kept:
        return RedirectResponse(path_for(request, "support_organizations", query={"done": "imported"}),
                                status_code=303)
    context: dict[str, Any] = {"actor": actor, "report": report, "filename": upload.filename}
    return _page(request, "support/organization_import.html", context, status_code=400 if report.wrong else 200)


routes: list[BaseRoute] = [
    Route("/support/organizations", registry, methods=["GET"], name="support_organizations"),
    Route("/support/organizations/new", new_organization, methods=["GET", "POST"], name="support_organization_new"),
    Route("/support/organizations/import", import_organizations, methods=["GET", "POST"],
          name="support_organization_import"),
    Route("/support/organizations/{organization_id:id}", edit_organization, methods=["GET", "POST"],
          name="support_organization_edit"),
]
