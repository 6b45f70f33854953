"""Jinja2 templates for the bridge's pages (Russian, mobile-first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bridge.services.moscow_time import moscow_date, moscow_datetime
from bridge.web.csrf import csrf_token
from bridge.web.urls import path_for

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def build_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # {{ moment | moscow }} → «1 декабря 2026, 10:00»; {{ moment | moscow_date }} → «1 декабря 2026».
    environment.filters["moscow"] = moscow_datetime
    environment.filters["moscow_date"] = moscow_date
    return environment


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    environment: Environment = request.app.state.templates
    values = {
        "request": request,
        "csrf_token": csrf_token(request),
        # {{ url("staff_card", login=card.login) }}: a path from the route table by name.
        "url": lambda name, /, query=None, **params: path_for(request, name, query=query, **params),
        **(context or {}),
    }
    response = HTMLResponse(environment.get_template(template).render(values), status_code=status_code)
    # Pages can show one-time passwords and personal data: never cache, never frame.
    response.headers["Cache-Control"] = "no-store"
    return response
