"""CSRFMiddleware on the smallest app: what it checks, what it lets through, and that routes still read forms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from bridge.config import Secret, Settings
from bridge.web.browser import BrowserIdMiddleware
from bridge.web.csrf import MAX_BODY_BYTES, CSRFMiddleware, csrf_token
from bridge.web.templating import TEMPLATES_DIR, build_environment

STALE = "Форма устарела"


async def page(request: Request) -> Response:
    return PlainTextResponse(csrf_token(request))


async def echo_form(request: Request) -> Response:
    form = await request.form()
    fields = {}
    for key, value in form.multi_items():
        fields[key] = value if isinstance(value, str) else (await value.read()).decode()
    return JSONResponse({"method": request.method, "fields": fields})


async def echo_json(request: Request) -> Response:
    return JSONResponse({"json": await request.json()})


def small_app() -> Starlette:
    settings = Settings(environment="test", secret_key=Secret("csrf-test-" + "k" * 32), public_url="https://t.test")
    app = Starlette(
        routes=[
            Route("/form", page, methods=["GET"], name="form_page"),
            Route("/form", echo_form, methods=["POST", "PUT", "PATCH", "DELETE"], name="form_submit"),
            Route("/action", echo_form, methods=["POST"], name="action"),
            Route("/json", echo_json, methods=["POST"], name="json"),
            Route("/token-endpoint", echo_form, methods=["POST"], name="exempt"),
            Route("/read-only", page, methods=["GET"], name="read_only"),
            # The pages' layout links its stylesheet and the front page by route name.
            Route("/", page, methods=["GET"], name="home"),
            Mount("/static", app=StaticFiles(directory=TEMPLATES_DIR / "static"), name="static"),
        ],
        middleware=[
            Middleware(BrowserIdMiddleware, settings=settings),
            Middleware(CSRFMiddleware, exempt={"exempt"}),
        ],
    )
    app.state.settings = settings
    app.state.templates = build_environment()
    return app


@pytest.fixture
def browser() -> TestClient:
    return TestClient(small_app(), base_url="https://t.test")


def _token(browser: TestClient) -> str:
    return browser.get("/form").text


def test_a_urlencoded_form_with_the_token_reaches_the_route_whole(browser: TestClient) -> None:
    token = _token(browser)
    answer = browser.post("/form", data={"csrf_token": token, "surname": "Ёлкина", "note": "x" * 5000})
    assert answer.status_code == 200
    assert answer.json()["fields"] == {"csrf_token": token, "surname": "Ёлкина", "note": "x" * 5000}


def test_a_multipart_form_with_the_token_reaches_the_route_whole(browser: TestClient) -> None:
    token = _token(browser)
    answer = browser.post(
        "/form", data={"csrf_token": token, "surname": "Ёлкина"}, files={"scan": ("scan.txt", b"content")}
    )
    assert answer.status_code == 200
    assert answer.json()["fields"] == {"csrf_token": token, "surname": "Ёлкина", "scan": "content"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_unsafe_method_needs_the_token(browser: TestClient, method: str) -> None:
    token = _token(browser)
    for forged in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": token + "0"}):
        refused = browser.request(method, "/form", data={"surname": "X", **forged})
        assert refused.status_code == 403 and STALE in refused.text, forged
        assert refused.headers["cache-control"] == "no-store"
    assert browser.request(method, "/form", data={"csrf_token": token}).json()["method"] == method


def test_a_token_from_another_browser_is_refused() -> None:
    app = small_app()
    victim, attacker = TestClient(app, base_url="https://t.test"), TestClient(app, base_url="https://t.test")
    _token(victim)
    refused = victim.post("/form", data={"csrf_token": _token(attacker)})
    assert refused.status_code == 403 and STALE in refused.text


def test_a_browser_without_the_flow_cookie_is_refused(browser: TestClient) -> None:
    token = _token(browser)
    browser.cookies.clear()
    assert browser.post("/form", data={"csrf_token": token}).status_code == 403


def test_the_header_carries_the_token_for_scripts(browser: TestClient) -> None:
    token = _token(browser)
    answer = browser.post("/json", json={"a": 1}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and answer.json() == {"json": {"a": 1}}
    refused = browser.post("/json", json={"a": 1}, headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "csrf_failed", "message": "Страница устарела. Обновите её и повторите действие."}


def test_a_json_client_gets_json_and_a_person_gets_the_page(browser: TestClient) -> None:
    _token(browser)
    machine = browser.post("/action", data={}, headers={"Accept": "application/json"})
    assert machine.status_code == 403 and machine.json()["error"] == "csrf_failed"
    person = browser.post("/action", data={}, headers={"Accept": "text/html,application/json;q=0.9"})
    assert person.status_code == 403 and STALE in person.text and "text/html" in person.headers["content-type"]


def test_the_refusal_links_back_to_the_form_page_when_there_is_one(browser: TestClient) -> None:
    assert 'href="/form"' in browser.post("/form", data={}).text
    assert "Повторить" not in browser.post("/action", data={}).text


def test_an_exempt_route_is_not_checked(browser: TestClient) -> None:
    assert browser.post("/token-endpoint", data={"grant_type": "x"}).json()["fields"] == {"grant_type": "x"}


def test_safe_methods_and_unrouted_requests_are_left_to_the_router(browser: TestClient) -> None:
    assert browser.get("/read-only").status_code == 200
    assert browser.post("/nowhere", data={}).status_code == 404
    assert browser.post("/read-only", data={}).status_code == 405


def test_a_body_over_the_limit_is_refused_unread(browser: TestClient) -> None:
    token = _token(browser)
    answer = browser.post("/form", data={"csrf_token": token, "note": "x" * MAX_BODY_BYTES})
    assert answer.status_code == 413 and "Слишком большой запрос" in answer.text
    # The same without a Content-Length: counted while it is read.
    def chunks() -> Iterator[bytes]:
        yield f"csrf_token={token}&note=".encode()
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536

    streamed = browser.post(
        "/form", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413


def test_the_form_limits_still_give_a_400(browser: TestClient) -> None:
    token = _token(browser)
    too_many = {"csrf_token": token, **{f"field{index}": "x" for index in range(1000)}}
    assert browser.post("/form", data=too_many).status_code == 400
    # A truncated multipart body parses to no fields: no token.
    broken = browser.post(
        "/form", content=b"--x\r\nnonsense", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert broken.status_code == 403
    assert browser.post("/form", content=b"", headers={"Content-Type": "multipart/form-data"}).status_code == 400
