"""The browser id: read from the flow cookie when a route asks for it, minted (and set) only then."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.web.browser import FLOW_COOKIE, BrowserIdMiddleware, browser_id
from bridge.web.cookies import cookie_name

WELL_FORMED = "A" * 43


async def whose(request: Request) -> Response:
    return PlainTextResponse(browser_id(request))


async def nobodys(request: Request) -> Response:
    return PlainTextResponse("ok")


def client(settings: Settings) -> TestClient:
    app = Starlette(routes=[Route("/whose", whose), Route("/nobodys", nobodys)],
                    middleware=[Middleware(BrowserIdMiddleware, settings=settings)])
    return TestClient(app, base_url="https://testserver")


def test_a_well_formed_cookie_is_the_id_and_is_not_set_again(settings: Settings) -> None:
    browser = client(settings)
    name = cookie_name(settings, FLOW_COOKIE)
    response = browser.get("/whose", headers={"cookie": f"other=1; {name}={WELL_FORMED}"})
    assert response.text == WELL_FORMED
    assert "set-cookie" not in response.headers


def test_a_malformed_cookie_is_replaced_by_a_new_id(settings: Settings) -> None:
    name = cookie_name(settings, FLOW_COOKIE)
    response = client(settings).get("/whose", headers={"cookie": f"{name}=short;"})
    assert response.text != "short" and len(response.text) >= 32
    assert f"{name}={response.text}" in response.headers["set-cookie"]


def test_a_route_that_never_asks_sets_no_cookie(settings: Settings) -> None:
    assert "set-cookie" not in client(settings).get("/nobodys").headers
