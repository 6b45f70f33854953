"""The mock's access line names the path and status, never the query (client_secret, state, nonce)."""

from __future__ import annotations

import logging

import httpx
import pytest

from .esia_rp import EsiaRelyingParty

pytestmark = pytest.mark.anyio


async def test_the_access_line_never_holds_the_query(
    http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="idp_mock.access"):
        code, state = await esia_rsa.obtain_code()
    lines = [record.getMessage() for record in caplog.records if record.name == "idp_mock.access"]
    assert any(line.startswith('"GET /esia/aas/oauth2/v2/ac?…" 200 ') for line in lines), lines
    assert all(code not in line and state not in line for line in lines)
