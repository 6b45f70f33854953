"""HTML responses and the redirects back to relying parties, shared by both providers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .state import mock_state

BRANDS = {
    "esia": {"name": "Госуслуги", "tagline": "Единая система идентификации и аутентификации"},
    "rsaa": {"name": "РСАА", "tagline": "Региональная система аутентификации и авторизации"},
    "mock": {"name": "IdP mock", "tagline": "Пульт тестировщика"},
}


def render(request: Request, template: str, brand: str, status_code: int = 200, **context: Any) -> Response:
    templates = mock_state(request).templates
    context = {"brand": brand, "brand_info": BRANDS[brand], **context}
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def error_page(
    request: Request, brand: str, title: str, message: str, code: str = "", status_code: int = 400
) -> Response:
    return render(request, "error.html", brand, status_code=status_code, title=title, message=message, code=code)


def redirect_to(uri: str, params: dict[str, str | None]) -> RedirectResponse:
    """302 to ``uri`` with ``params`` (None dropped) added to its query."""
    query = urlencode({key: value for key, value in params.items() if value is not None})
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{separator}{query}" if query else uri, status_code=302)
