"""The front page and a health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.web.context import current_signin
from bridge.web.urls import path_for


async def home(request: Request) -> Response:
    target = "login" if current_signin(request) is None else "account"
    return RedirectResponse(path_for(request, target), status_code=303)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/healthz", health, methods=["GET"], name="health"),
]
