"""Security headers on every response (pure ASGI, so streaming is untouched).

With `hsts` (the bridge is served over https) every response also carries
`Strict-Transport-Security`, so browsers never try plain http for it again.

A route may set one of these itself (its own value wins). The headers are encoded once, at start:
each response pays one pass over the headers it already has, not one per header added.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action *; frame-ancestors 'none'",
}
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = {**_HEADERS, "Strict-Transport-Security": HSTS} if hsts else dict(_HEADERS)
        self._raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.added_to(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def added_to(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """`headers` and each security header the response did not set itself."""
        present = {name.lower() for name, _ in headers}
        return [*headers, *(header for header in self._raw if header[0] not in present)]
