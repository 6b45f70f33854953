"""The answer while the database cannot be had: 503 with Retry-After, a calm Russian page or OAuth's JSON.

A database outage (a restart, dropped connections) or a lock not granted in time is not a bug of
the bridge: a raw 500 would tell a relying app to give up and a person that something broke. The
app maps the database's operational errors here (bridge/app.py); what they are is decided by
bridge/storage/outage.py. The transaction has already been rolled back by the unit of work.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge.web.errors import wants_json
from bridge.web.templating import render

logger = logging.getLogger("bridge.web")

RETRY_AFTER_SECONDS = 5
TITLE = "Сервис временно недоступен"
MESSAGE = "База данных моста сейчас не отвечает. Повторите попытку через несколько секунд."


def temporarily_unavailable(request: Request, reason: str) -> Response:
    # The reason is the exception's class name: a statement's text or parameters never reach the log.
    logger.warning("database unavailable on %s: %s", request.url.path, reason)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if wants_json(request):
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": "The database is unavailable, retry later"},
            status_code=503, headers=headers,
        )
    response = render(request, "error.html", {"title": TITLE, "message": MESSAGE}, status_code=503)
    response.headers.update(headers)
    return response
