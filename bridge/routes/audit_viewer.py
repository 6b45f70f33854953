"""«Журнал»: the audit log for every administrator, their own subtree only (technical support all).

Each record is titled in Russian (bridge/services/audit_titles.py); the CLI keeps the codes.
The same use case as `bridge audit` (`application/audit_log.py`), which decides what the reader
may see; the filters travel in the query string (a GET reads, it never changes anything), and
«Выгрузить» exports exactly the filtered view, as `bridge audit export --from … --actor …` does.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge.application import audit_log
from bridge.application.audit_log import AuditFilter
from bridge.blocking import run_blocking
from bridge.routes.admin_common import administrator, forbidden
from bridge.services.audit_export import ExportFormat
from bridge.services.audit_titles import detail_label, event_title, operation_title, reason_title
from bridge.services.errors import DomainError, InvalidInput
from bridge.services.roles import Role
from bridge.web.context import runtime_of
from bridge.web.numbers import record_number
from bridge.web.templating import render

# What the «Событие» select offers: a beginning of the event names, and how a person calls it.
EVENT_KINDS = {
    "": "Все события",
    "credential.": "Выдача и сброс паролей",
    "issuance.refused": "Отказы в действиях администраторов",
    "staff.": "Карточки сотрудников",
    "role.": "Роли",
    "binding.": "Привязки Госуслуг и РСАА",
    "signin.": "Входы",
    "throttle.": "Блокировки входа по паролю",
    "request.": "Заявки на подключение",
    "activation.": "Ссылки активации",
    "organization.": "Организации",
    "oidc.": "Приложения и ключи",
}
PAGE_SIZE = 50
# The page names events, refused actions, detail keys and reason codes in Russian
# (bridge/services/audit_titles.py).
TITLES = {"event": event_title, "operation": operation_title, "detail": detail_label, "reason": reason_title}


def _date(params: QueryParams, name: str, title: str) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("invalid_date", f"«{title}»: дата указана неверно.") from None


def _filter(params: QueryParams) -> AuditFilter:
    org = params.get("org", "").strip()
    if org and record_number(org) is None:
        raise InvalidInput("invalid_organization", "«Организация»: укажите номер организации в реестре.")
    return AuditFilter(
        since=_date(params, "from", "С"), until=_date(params, "until", "По"),
        actor=params.get("actor", "").strip()[:200] or None, subject=params.get("subject", "").strip()[:200] or None,
        event=params.get("event", "").strip()[:100] or None, organization_id=record_number(org),
    )


def _page_number(params: QueryParams) -> int:
    number = record_number(params.get("page", "1"))
    return min(number, 100_000) if number else 1


async def viewer(request: Request) -> Response:
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    params = request.query_params
    values = {key: params.get(key, "") for key in ("from", "until", "actor", "subject", "event", "org")}
    context: dict[str, Any] = {
        "actor": actor, "values": values, "kinds": EVENT_KINDS, "page": None, "titles": TITLES,
        "is_support": any(acting.role is Role.SUPPORT for acting in actor.roles),
    }
    try:
        view = _filter(params)
        page = await run_blocking(
            audit_log.read_audit_log, runtime_of(request).db, actor, view, page=_page_number(params), limit=PAGE_SIZE
        )
    except InvalidInput as error:
        return render(request, "support/audit.html", {**context, "error": error.message}, status_code=400)
    except DomainError as error:
        return forbidden(request, error.message)
    filters = {key: value for key, value in values.items() if value}
    return render(request, "support/audit.html", {**context, "page": page, "filters": filters})


async def export(request: Request) -> Response:
    """The filtered view as CSV, with seq and hashes (the export's format)."""
    actor = await administrator(request)
    if isinstance(actor, Response):
        return actor
    out = io.StringIO()
    try:
        view = _filter(request.query_params)
        await run_blocking(
            audit_log.export_audit_view, runtime_of(request).db, actor, view, out, ExportFormat.CSV
        )
    except InvalidInput as error:
        return render(request, "error.html", {"title": "Выгрузка не сделана", "message": error.message},
                      status_code=400)
    except DomainError as error:
        return forbidden(request, error.message)
    response = Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


routes: list[BaseRoute] = [
    Route("/admin/audit", viewer, methods=["GET"], name="admin_audit"),
    Route("/admin/audit/export", export, methods=["GET"], name="admin_audit_export"),
]
