"""The bridge's access line: what an operator needs, nothing a person could replay."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from bridge.web.access_log import AccessLogMiddleware, scrub_query

SECRET = "S3cr3t-value"


@pytest.mark.parametrize(
    "name",
    ["code", "state", "nonce", "id_token_hint", "login_hint", "token", "access_token", "refresh_token",
     "id_token", "session_state", "client_secret", "password", "code_verifier", "error_description",
     "logout_token", "request", "anything_new", "CODE", "co%64e"],
)
def test_every_value_outside_the_allowlist_is_hidden(name: str) -> None:
    scrubbed = scrub_query(f"client_id=kontingent&{name}={SECRET}&scope=openid+profile")
    assert SECRET not in scrubbed
    assert scrubbed == f"client_id=kontingent&{name}=…&scope=openid+profile"


def test_urls_are_shown_without_their_own_query() -> None:
    nested = "%2Foidc%2Fauthorize%3Fclient_id%3Dapp%26state%3DRP-STATE%26nonce%3DRP-NONCE"
    assert scrub_query(f"next={nested}") == "next=/oidc/authorize?…"
    assert scrub_query("next=%2Faccount") == "next=/account"
    assert scrub_query("redirect_uri=https%3A%2F%2Fapp.test%2Fcb%23frag") == "redirect_uri=https://app.test/cb?…"
    assert scrub_query("post_logout_redirect_uri=https://app.test/bye?sid=SID") == (
        "post_logout_redirect_uri=https://app.test/bye?…"
    )


def test_bare_names_and_empty_pairs() -> None:
    assert scrub_query(f"{SECRET}&&reauth=1") == "…&&reauth=1"


def test_the_line_has_method_path_scrubbed_query_status_and_duration(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        client.get(f"/login/callback/esia?code={SECRET}&state={SECRET}&iss=https%3A%2F%2Fesia.test")
        client.get(f"/login?next=%2Foidc%2Fauthorize%3Fstate%3D{SECRET}&login_hint={SECRET}")
    lines = [record.getMessage() for record in caplog.records if record.name == "bridge.access"]
    assert len(lines) == 2
    assert all(SECRET not in line for line in lines)
    assert '"GET /login/callback/esia?code=…&state=…&iss=https%3A%2F%2Fesia.test HTTP/1.1" 400' in lines[0]
    assert '"GET /login?next=/oidc/authorize?…&login_hint=… HTTP/1.1" 200' in lines[1]
    assert lines[1].endswith("ms")


@pytest.mark.anyio
async def test_control_characters_cannot_forge_a_line(caplog: pytest.LogCaptureFixture) -> None:
    async def teapot(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope: Scope = {
        "type": "http", "method": "GET", "http_version": "1.1", "client": ("203.0.113.9", 5000),
        "path": "/x\n2026 forged", "raw_path": b"/x\n2026 forged\x1b[31m", "query_string": b"reauth=1\r\n",
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    with caplog.at_level(logging.INFO, logger="bridge.access"):
        await AccessLogMiddleware(teapot)(scope, receive, send)
    [line] = [record.getMessage() for record in caplog.records if record.name == "bridge.access"]
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    assert '"GET /x\\n2026 forged\\x1b[31m?reauth=1\\r\\n HTTP/1.1" 418' in line


@pytest.mark.anyio
async def test_an_exception_is_logged_as_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    scope: Scope = {"type": "http", "method": "POST", "path": "/oidc/token", "query_string": b"", "client": None}
    with caplog.at_level(logging.INFO, logger="bridge.access"), pytest.raises(RuntimeError):
        await AccessLogMiddleware(broken)(scope, receive, send)
    [line] = [record.getMessage() for record in caplog.records if record.name == "bridge.access"]
    assert line.startswith('- - "POST /oidc/token HTTP/1.1" 500 ')


def test_the_activation_links_token_is_never_written(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """The mailed link carries its secret in the query: the route's line shows only that one was there."""
    token = "Zm9vYmFyLXRva2VuLXRoYXQtbG9va3MtcmVhbC0xMjM0NTY3OA"
    assert scrub_query(f"token={token}") == "token=…"
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        client.get(f"/activate?token={token}")
        client.get(f"/activate?provider=esia&token={token}&next=%2Factivate%3Ftoken%3D{token}")
    lines = [record.getMessage() for record in caplog.records if record.name == "bridge.access"]
    assert len(lines) == 2 and all(token not in line for line in lines)
    assert '"GET /activate?token=… HTTP/1.1" 404' in lines[0]
    assert '"GET /activate?provider=esia&token=…&next=/activate?… HTTP/1.1" 404' in lines[1]
