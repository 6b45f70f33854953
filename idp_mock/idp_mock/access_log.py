"""The mock's access line: method, path and status — never the query.

The mock's query strings carry what a real provider must keep out of its logs too: ESIA's signed
client_secret, state, nonce, codes. ``idp-mock`` switches uvicorn's access log off and writes
this line instead; a query shows only as "?…".
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("idp_mock.access")


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            raw_path = scope.get("raw_path")
            path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else str(scope.get("path", ""))
            query = "?…" if scope.get("query_string") else ""
            logger.info(
                '"%s %s%s" %d %.1fms', scope.get("method", "-"), _printable(path), query, status,
                (time.perf_counter() - started) * 1000,
            )
