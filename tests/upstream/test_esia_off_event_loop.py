"""ESIA's GOST work (two client_secret signatures, the id_token verification): off the event loop
when it is slow, in place when OpenSSL's engine makes it cheaper than a thread hop.

On the slow path the signer blocks until a coroutine on the loop lets it go: were it called on the
loop, that coroutine could never run.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from bridge.upstream import esia as esia_module
from bridge.upstream.esia import PERSON_PATH, TOKEN_PATH, EsiaProvider
from gost_jws import GostPrivateKey, GostPublicKey, RsaPrivateKey, cheap_to_use, encode_jwt
from gost_jws.backend import gost_backend
from gost_jws.openssl_engine import OpenSslGost

pytestmark = pytest.mark.anyio

BASE = "https://esia.test"
ISSUER = "http://esia.test/"
CLIENT_ID = "EDU-BRIDGE"
CALLBACK = "https://bridge.test/login/callback/esia"
OID = "1000299654"


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_slow_signatures_and_the_id_token_check_leave_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(esia_module, "cheap_to_use", lambda key: False)
    calls = await sign_in_through(threading.Event())
    assert calls == [("sign", False), ("sign", False), ("verify", False)]


async def test_cheap_signatures_stay_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(esia_module, "cheap_to_use", lambda key: True)
    released = threading.Event()
    released.set()  # in place, a signature cannot wait for the loop it runs on
    calls = await sign_in_through(released)
    assert calls == [("sign", True), ("sign", True), ("verify", True)]


def test_only_gost_keys_on_the_engine_are_cheap() -> None:
    gost = GostPrivateKey.generate()
    on_engine = isinstance(gost_backend(), OpenSslGost)
    assert cheap_to_use(gost) is on_engine and cheap_to_use(gost.verifier()) is on_engine
    assert not cheap_to_use(RsaPrivateKey.generate())


async def sign_in_through(released: threading.Event) -> list[tuple[str, bool]]:
    """One ESIA sign-in against a mock transport: where each signature and verification ran.

    Each signature waits for `released`, which a coroutine on the loop sets 10 ms in.
    """
    calls: list[tuple[str, bool]] = []

    class Signer(GostPrivateKey):
        def sign(self, message: bytes) -> bytes:
            calls.append(("sign", on_the_event_loop()))
            assert released.wait(timeout=5), "the event loop was blocked while signing"
            return super().sign(message)

    class Verifier(GostPublicKey):
        def verify(self, message: bytes, signature: bytes) -> bool:
            calls.append(("verify", on_the_event_loop()))
            return super().verify(message, signature)

    esia_key, client_key = GostPrivateKey.generate(), GostPrivateKey.generate()
    signer = Signer.from_secret(client_key.d)
    provider_key = Verifier(esia_key.public_key.x, esia_key.public_key.y)
    flow: dict[str, Any] = {}

    def esia(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH:
            form = parse_qs(request.content.decode())
            now = int(time.time())
            claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": int(OID), "iat": now, "exp": now + 3600,
                      "auth_time": now, "nonce": flow["nonce"], "amr": ["PWD"]}
            id_token = encode_jwt(claims, esia_key, {"typ": "JWT", "sbt": "id", "ver": 1})
            return httpx.Response(200, json={"access_token": "at", "id_token": id_token, "state": form["state"][0],
                                             "token_type": "Bearer", "expires_in": 3600})
        if request.url.path == PERSON_PATH.format(oid=OID):
            return httpx.Response(200, json={"oid": OID, "firstName": "Мария", "lastName": "Иванова",
                                             "snils": "000-000-600 06", "trusted": True})
        return httpx.Response(404)

    provider = EsiaProvider(key="esia", title="Госуслуги", base_url=BASE, issuer=ISSUER, client_id=CLIENT_ID,
                            signer=signer, provider_key=provider_key)

    async def release_from_the_loop() -> None:
        await asyncio.sleep(0.01)
        released.set()

    async with httpx.AsyncClient(transport=httpx.MockTransport(esia)) as http:
        start, _ = await asyncio.gather(provider.start_authorization(http, CALLBACK), release_from_the_loop())
        flow.update(start.parked)
        identity = await provider.finish_authorization(
            http, {"code": "the-code", "state": start.parked["state"]}, start.parked, CALLBACK
        )

    assert identity.subject == OID
    assert identity.surname == "Иванова"
    return calls
