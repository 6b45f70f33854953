"""The upstream client keeps no cookies: nothing of one person's exchange rides along on the next."""

from __future__ import annotations

import httpx
import pytest

from bridge.runtime import BridgeRuntime
from bridge.upstream.http_client import UpstreamClient, upstream_client

pytestmark = pytest.mark.anyio


async def test_an_upstream_cookie_is_not_sent_with_the_next_request() -> None:
    sent: list[str | None] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "route=node-7; Path=/"}, json={})

    async with upstream_client(5, transport=httpx.MockTransport(upstream)) as client:
        first = await client.post("https://idp.test/token", data={"code": "one"})
        await client.post("https://idp.test/token", data={"code": "two"})
        client.cookies = {"assigned": "later"}
        await client.get("https://idp.test/userinfo")

    assert sent == [None, None, None]
    assert list(client.cookies.jar) == []
    # The answer itself still shows what the upstream set.
    assert first.cookies["route"] == "node-7"


async def test_redirects_are_not_followed() -> None:
    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "https://elsewhere.test/"})

    async with upstream_client(5, transport=httpx.MockTransport(upstream)) as client:
        answer = await client.get("https://idp.test/token")
    assert answer.status_code == 302


def test_the_runtime_calls_upstream_with_it(runtime: BridgeRuntime) -> None:
    assert isinstance(runtime.http, UpstreamClient)
