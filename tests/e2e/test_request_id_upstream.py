"""The request id travels with the sign-in: on every call the bridge makes upstream for that request."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.world import World, sign_in_through

pytestmark = pytest.mark.anyio

REQUEST_ID = "lb-7f3c2a91-0d4e-4b8a-a1c6-2e9f5b7d3c10"


async def test_upstream_calls_carry_the_browsers_request_id(world: World) -> None:
    sent: list[tuple[str, str | None]] = []

    async def note(request: httpx.Request) -> None:
        sent.append((request.url.path, request.headers.get("x-request-id")))

    world.runtime.http.event_hooks["request"] = [*world.runtime.http.event_hooks["request"], note]
    async with world.browser(headers={"X-Request-ID": REQUEST_ID}) as browser:
        page = await sign_in_through(browser, "РСАА", "e.smirnova@school1535.ru")
    assert page.url.path == "/login/bind"
    assert page.headers["x-request-id"] == REQUEST_ID
    paths = {path for path, _ in sent}
    assert any(path.endswith("/token") for path in paths), paths  # the code was redeemed upstream
    assert {request_id for _, request_id in sent} == {REQUEST_ID}
