"""The front page and a health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.web.context import current_signin


async def home(request: Request) -> Response:
    if current_signin(request) is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/account", status_code=303)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
]
