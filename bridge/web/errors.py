"""Calm error pages and JSON errors: never a traceback in front of a person."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.web.templating import render

logger = logging.getLogger("bridge.web")

_TITLES = {
    400: "Запрос не понят",
    403: "Доступ запрещён",
    404: "Страница не найдена",
    405: "Так обратиться нельзя",
}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/oidc/", "/.well-known/", "/api/")) or "application/json" in request.headers.get(
        "accept", ""
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse({"error": f"http_{exc.status_code}", "message": exc.detail}, exc.status_code)
    title = _TITLES.get(exc.status_code, "Что-то пошло не так")
    return render(
        request, "error.html", {"title": title, "message": None}, status_code=exc.status_code
    )


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s", request.url.path)
    if wants_json(request):
        return JSONResponse({"error": "server_error", "message": "Внутренняя ошибка сервера"}, 500)
    return render(
        request,
        "error.html",
        {
            "title": "Что-то пошло не так",
            "message": "Мы уже знаем об ошибке. Попробуйте повторить через несколько минут.",
        },
        status_code=500,
    )
