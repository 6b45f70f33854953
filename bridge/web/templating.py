"""Jinja2 templates for the bridge's pages (Russian, mobile-first)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bridge.services.identifiers import formatted_snils
from bridge.services.moscow_time import moscow_date, moscow_datetime
from bridge.services.phones import formatted_phone
from bridge.web.csrf import csrf_token
from bridge.web.urls import path_for

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        # Compiled once per process and kept: the templates ship with the code, so nothing is
        # stat'ed or re-read per request (a changed template needs a restart, as changed code does).
        auto_reload=False,
    )
    # How a page writes a time, a date, a СНИЛС and a phone: {{ card.created_at|moscow }},
    # {{ role.end_date|moscow_date }}, {{ card.snils|snils }}, {{ card.phone|phone }}.
    environment.filters["moscow"] = moscow_time
    environment.filters["moscow_date"] = moscow_date
    environment.filters["snils"] = formatted_snils
    environment.filters["phone"] = formatted_phone
    return environment


def moscow_time(moment: datetime | None) -> str:
    """«1 декабря 2026, 10:00 (МСК)»; empty for no time."""
    return f"{moscow_datetime(moment)} (МСК)" if moment is not None else ""


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    environment: Environment = request.app.state.templates
    values = {
        "request": request,
        "csrf_token": csrf_token(request),
        # The footer of every page: the operator, support's contacts, the privacy notice.
        "operator": request.app.state.settings.operator,
        # {{ url("staff_card", login=card.login) }}: a path from the route table by name.
        "url": lambda name, /, query=None, **params: path_for(request, name, query=query, **params),
        **(context or {}),
    }
    response = HTMLResponse(environment.get_template(template).render(values), status_code=status_code)
    # Pages can show one-time passwords and personal data: never cache, never frame.
    response.headers["Cache-Control"] = "no-store"
    return response
