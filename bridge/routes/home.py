"""The front page (the health checks: bridge/routes/operations.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.web.context import current_signin
from bridge.web.urls import path_for


async def home(request: Request) -> Response:
    target = "login" if current_signin(request) is None else "account"
    return RedirectResponse(path_for(request, target), status_code=303)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
]
