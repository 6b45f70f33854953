"""«Сотрудники» at the scale of a district: the paged, filtered list, its search and its export.

The filters (organization, role, status, binding, awaiting, page, page size) are codes and ids and
travel in the list's query string, so a page can be bookmarked and refreshed. The search text can
be a СНИЛС or a name, which must stay out of URLs and so out of access logs: the search form is
POSTed, the text parked for this browser and administrator (`application/staff_searches.py`), and
the redirect carries only its random id (`s`). The export is a POST of the same filter answered
with the file (a download leaves no page to refresh).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import staff_directory, staff_searches
from bridge.application.staff_directory import PAGE_SIZES, StaffFilter
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator
from bridge.services.actors import Actor
from bridge.services.errors import DomainError, InvalidInput
from bridge.services.roles import Role
from bridge.services.staff_export import ExportFormat
from bridge.services.staff_search import DEFAULT_PAGE_SIZE, BindingFilter, StaffStatus
from bridge.web.browser import browser_id
from bridge.web.context import runtime_of, settings_of
from bridge.web.numbers import record_number
from bridge.web.templating import render
from bridge.web.urls import path_for

# The query-string fields of the filter; the search text is never one of them. The page's own
# fields (page, after, before: a number and a row's id) are added by the pager's links.
FILTER_FIELDS = ("org", "role", "status", "binding", "awaiting", "size", "s")

STATUS_CHOICES = (
    (StaffStatus.ACTIVE, "активен"), (StaffStatus.BLOCKED, "заблокирован"),
    (StaffStatus.DEACTIVATED, "кабинет отключён"),
)
BINDING_CHOICES = ((BindingFilter.BOUND, "привязан к Госуслугам или РСАА"), (BindingFilter.UNBOUND, "не привязан"))


_Choice = TypeVar("_Choice", Role, StaffStatus, BindingFilter)


def _enum_value(kind: type[_Choice], raw: str, message: str) -> _Choice | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise InvalidInput("bad_filter", message) from None


def _number(raw: str, default: int | None) -> int | None:
    raw = raw.strip()
    if not raw:
        return default
    if record_number(raw) is None:
        raise InvalidInput("bad_filter", "Номер в адресе страницы указан неверно: начните отбор заново.")
    return int(raw)


def _filter_of(fields: Mapping[str, str], search: str) -> StaffFilter:
    return StaffFilter(
        organization_id=_number(fields.get("org", ""), None),
        role=_enum_value(Role, fields.get("role", ""), "Такой роли нет: выберите роль из списка."),
        status=_enum_value(StaffStatus, fields.get("status", ""), "Такого состояния нет: выберите из списка."),
        binding=_enum_value(BindingFilter, fields.get("binding", ""), "Выберите «привязан» или «не привязан»."),
        awaiting=fields.get("awaiting", "") == "1",
        search=search,
    )


def _query_of(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: str(fields[name]) for name in FILTER_FIELDS if fields.get(name)}


async def _search_text(request: Request, actor: Actor, fields: Mapping[str, str]) -> str | None:
    """The parked search named by `s`; "" without one; None when it is gone (expired, another browser)."""
    search_id = fields.get("s", "")
    if not search_id:
        return ""
    return await run_blocking(
        staff_searches.saved_search, runtime_of(request).db, browser_id(request), actor, search_id
    )


async def _render_list(
    request: Request, actor: Actor, fields: Mapping[str, str], *, error: str = "", status_code: int = 200
) -> Response:
    database = runtime_of(request).db
    choices = await run_blocking(staff_directory.staff_filter_choices, database, actor)
    query = _query_of(fields)
    context: dict[str, object] = {
        "actor": actor, "choices": choices, "query": query, "page": None, "search": "",
        "status_choices": STATUS_CHOICES, "binding_choices": BINDING_CHOICES, "page_sizes": PAGE_SIZES,
        "error": error,
    }
    search = await _search_text(request, actor, fields)
    if search is None:
        query.pop("s", None)
        context["query"] = query
        context["error"] = error or "Поиск устарел: введите запрос ещё раз."
        search = ""
    context["search"] = search
    try:
        wanted = _filter_of(fields, search)
        size = _number(fields.get("size", ""), DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
        number = _number(fields.get("page", ""), 1) or 1
        context["page"] = await run_blocking(
            staff_directory.list_staff, database, actor, wanted, page=number, page_size=size,
            after=_number(fields.get("after", ""), None), before=_number(fields.get("before", ""), None),
        )
    except DomainError as refusal:
        context["error"] = refusal.message
        status_code = 400
    return render(request, "admin/staff_list.html", context, status_code=status_code)


async def staff_list(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    return await _render_list(request, actor, request.query_params)


async def staff_search(request: Request) -> Response:
    """The filter form: park the search text (if any) and redirect to the list's first page."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    fields = {name: str(value).strip() for name, value in form.items() if isinstance(value, str)}
    fields.pop("s", None)
    text = " ".join(fields.pop("q", "").split())
    if text:
        fields["s"] = await run_blocking(
            staff_searches.keep_search, runtime_of(request).db, browser_id(request), actor, text
        )
    return RedirectResponse(path_for(request, "admin_staff_list", query=_query_of(fields)), status_code=303)


async def staff_export(request: Request) -> Response:
    """The whole current filter as CSV or XLSX; audited; refused (in place) past the row limit."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    form = await request.form()
    fields = {name: str(value) for name, value in form.items() if isinstance(value, str)}
    search = await _search_text(request, actor, fields)
    try:
        if search is None:
            raise InvalidInput("search_expired", "Поиск устарел: введите запрос ещё раз и повторите выгрузку.")
        export_format = ExportFormat(fields.get("format", ""))
    except ValueError:
        return await _render_list(request, actor, fields, error="Выберите формат: CSV или XLSX.", status_code=400)
    except DomainError as refusal:
        return await _render_list(request, actor, fields, error=refusal.message, status_code=400)
    try:
        exported = await run_blocking(
            staff_directory.export_staff, runtime_of(request).db, actor, _filter_of(fields, search), export_format,
            max_rows=settings_of(request).staff_export_max_rows,
        )
    except DomainError as refusal:
        return await _render_list(request, actor, fields, error=refusal.message, status_code=400)
    return Response(
        exported.content, media_type=exported.content_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"', "Cache-Control": "no-store"},
    )


routes: list[BaseRoute] = [
    Route("/admin/staff", staff_list, methods=["GET"], name="admin_staff_list"),
    Route("/admin/staff-search", staff_search, methods=["POST"], name="admin_staff_search"),
    Route("/admin/staff-export", staff_export, methods=["POST"], name="admin_staff_export"),
]
