"""The mock on a real port, as testers run it: ESIA's token_timeout seen through a client timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
import uvicorn

from gost_jws import RsaPrivateKey
from idp_mock import MockConfig, create_app

from .conftest import ESIA_CALLBACK
from .esia_rp import EsiaRelyingParty

pytestmark = pytest.mark.anyio


@pytest.fixture
def served(config: MockConfig) -> Iterator[str]:
    """The mock under uvicorn on 127.0.0.1 with a free port; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(replace(config, token_timeout_delay_seconds=1.5)),
                                          host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_esia_token_timeout_over_a_real_port(served: str, rp_rsa_key: RsaPrivateKey) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=0.4) as http:
        party = EsiaRelyingParty(http, "rp-rsa", rp_rsa_key, ESIA_CALLBACK)
        code, _ = await party.obtain_code()
        assert (await http.post("/_mock/faults", json={"provider": "esia", "fault": "token_timeout"})).is_success
        with pytest.raises(httpx.ReadTimeout):
            await party.exchange(code)
        assert (await http.get("/_mock/faults")).json()["faults"] == []
