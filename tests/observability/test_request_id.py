"""The request id: accepted when well formed, replaced when not, on the answer, upstream and in the audit."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.observability.request_id import RequestIdMiddleware, current_request_id, send_request_id
from bridge.runtime import BridgeRuntime
from bridge.storage.models import AuditEvent
from tests.support.html_forms import read_forms

GOOD = "0f8e2c1a-4b7d-4e0a-9c3f-5a6b7c8d9e0f"


def echo_app() -> tuple[Starlette, list[httpx.Request]]:
    """An app whose one route makes an upstream call, as a sign-in does."""
    upstream_requests: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        upstream_requests.append(request)
        return httpx.Response(200, json={})

    async def route(request: Request) -> JSONResponse:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(upstream), event_hooks={"request": [send_request_id]}
        ) as http:
            await http.get("https://idp.test/token")
        return JSONResponse({"seen": current_request_id()})

    app = Starlette(routes=[Route("/", route)])
    app.add_middleware(RequestIdMiddleware)
    return app, upstream_requests


def test_a_well_formed_id_is_kept_on_the_answer_and_sent_upstream() -> None:
    app, upstream = echo_app()
    answer = TestClient(app).get("/", headers={"X-Request-ID": GOOD})
    assert answer.headers["x-request-id"] == GOOD
    assert answer.json() == {"seen": GOOD}
    assert upstream[0].headers["x-request-id"] == GOOD


@pytest.mark.parametrize(
    "sent",
    [
        "short", "x" * 65, "with space inside", "line\\nforged INFO bridge.audit: audit",
        "ид-запроса-12345".encode(), "a;b=c,d/e",
    ],
)
def test_a_malformed_id_is_replaced(sent: str | bytes) -> None:
    app, upstream = echo_app()
    answer = TestClient(app).get("/", headers={"X-Request-ID": sent})
    replaced = answer.headers["x-request-id"]
    assert replaced != sent and len(replaced) == 32
    assert upstream[0].headers["x-request-id"] == replaced


def test_without_an_id_each_request_gets_its_own() -> None:
    app, _ = echo_app()
    client = TestClient(app)
    first, second = (client.get("/").headers["x-request-id"] for _ in range(2))
    assert first != second


def test_outside_a_request_nothing_is_sent_upstream() -> None:
    request = httpx.Request("GET", "https://idp.test/")
    import anyio

    anyio.run(send_request_id, request)
    assert "x-request-id" not in request.headers


def test_the_runtime_client_sends_it(runtime: BridgeRuntime) -> None:
    assert send_request_id in runtime.http.event_hooks["request"]


def test_an_audit_row_carries_the_request_id(client: TestClient, db_factory: sessionmaker[Session]) -> None:
    # A refused password sign-in is audited; the row names the request that caused it.
    page = client.get("/login/first")
    [form] = [form for form in read_forms(page.text) if "password" in form.fields]
    refused = client.post(
        form.action, data={**form.fields, "login": "nobody", "password": "wrong"}, headers={"X-Request-ID": GOOD}
    )
    assert refused.status_code == 400
    with db_factory() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.details["request_id"].as_string() == GOOD)).all()
    assert events, "no audit row with the request's id"
