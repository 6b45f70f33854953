"""Security headers: on every response, once, and a route's own value wins."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.web.security_headers import SecurityHeadersMiddleware


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def framable(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"X-Frame-Options": "SAMEORIGIN"})


def client(*, hsts: bool) -> TestClient:
    app = Starlette(routes=[Route("/", plain), Route("/framable", framable)],
                    middleware=[Middleware(SecurityHeadersMiddleware, hsts=hsts)])
    return TestClient(app)


def test_every_response_carries_each_header_once() -> None:
    response = client(hsts=True).get("/")
    for name in ("x-frame-options", "x-content-type-options", "referrer-policy", "content-security-policy",
                 "strict-transport-security"):
        assert len(response.headers.get_list(name)) == 1, name
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_a_routes_own_value_wins_and_hsts_only_when_asked() -> None:
    response = client(hsts=False).get("/framable")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert "strict-transport-security" not in response.headers
    assert client(hsts=False).get("/missing").headers["x-content-type-options"] == "nosniff"
