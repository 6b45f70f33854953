"""The front page and the operator's privacy notice (the health checks: bridge/routes/operations.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.web.context import settings_of, signed_in
from bridge.web.templating import render
from bridge.web.urls import path_for


async def home(request: Request) -> Response:
    target = "login" if await signed_in(request) is None else "account"
    return RedirectResponse(path_for(request, target), status_code=303)


async def privacy(request: Request) -> Response:
    """The privacy notice: the bridge's own page when the operator gave its text, else their page."""
    operator = settings_of(request).operator
    if operator.privacy_text:
        return render(request, "privacy.html", {"paragraphs": operator.privacy_text.split("\n\n")})
    if operator.privacy_url:
        return RedirectResponse(operator.privacy_url, status_code=303)
    message = "Оператор моста ещё не опубликовал уведомление о персональных данных."
    return render(request, "error.html", {"title": "Страница не найдена", "message": message}, status_code=404)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/privacy", privacy, methods=["GET"], name="privacy"),
]
