"""Every fault switch, shown to really happen on the next matching response and then to disappear."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import anyio
import httpx
import pytest
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry, Token

from gost_jws import EsiaClaimsRegistry, b64url_decode, decode_jwt, load_verifier
from idp_mock import MockConfig, create_app

from .esia_rp import SMIRNOVA, EsiaRelyingParty, redirect_params
from .rsaa_rp import sign_in
from .test_rsaa_refusals import _authorize_url, _token_form

pytestmark = pytest.mark.anyio


async def _queue(http: httpx.AsyncClient, provider: str, fault: str, count: int = 1) -> None:
    response = await http.post("/_mock/faults", json={"provider": provider, "fault": fault, "count": count})
    assert response.status_code == 201, response.text


async def _esia_token_response(esia: EsiaRelyingParty) -> httpx.Response:
    code, _ = await esia.obtain_code()
    return await esia.exchange(code)


async def _rsaa_token_response(http: httpx.AsyncClient) -> httpx.Response:
    code = redirect_params(await sign_in(http, _authorize_url(), SMIRNOVA["email"]))["code"]
    return await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))


async def _rsaa_keys(http: httpx.AsyncClient) -> KeySet:
    return KeySet.import_key_set((await http.get("/rsaa/jwks")).json())


# --- consent and the token endpoint ------------------------------------------------------------


async def test_consent_refused(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    await _queue(http, "esia", "consent_refused")
    refused = redirect_params(await esia_rsa.login(await esia_rsa.start()))
    assert refused["error"] == "access_denied" and refused["error_description"].startswith("ESIA-007004")

    await _queue(http, "rsaa", "consent_refused")
    refused = redirect_params(await sign_in(http, _authorize_url(), SMIRNOVA["email"]))
    assert refused["error"] == "access_denied" and refused["state"] == "st-1"
    assert (await http.get("/_mock/faults")).json()["faults"] == []


async def test_token_500_then_normal_again(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    await _queue(http, "esia", "token_500")
    code, _ = await esia_rsa.obtain_code()
    failed = await esia_rsa.exchange(code)
    assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/html")
    assert (await esia_rsa.exchange(code)).status_code == 200  # the fault fired before the code was used

    await _queue(http, "rsaa", "token_500")
    failed = await _rsaa_token_response(http)
    assert failed.status_code == 500 and failed.json()["error"] == "server_error"


async def test_token_timeout_in_process(http: httpx.AsyncClient) -> None:
    """РСАА here; ESIA's is shown over a real port in test_real_port.py."""
    await _queue(http, "rsaa", "token_timeout")
    started = time.monotonic()
    with anyio.move_on_after(0.5) as scope:
        await _rsaa_token_response(http)
    assert scope.cancelled_caught and time.monotonic() - started < 2.0


async def test_token_malformed_json(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    await _queue(http, "esia", "token_malformed_json")
    for response in (await _esia_token_response(esia_rsa), None):
        if response is None:
            await _queue(http, "rsaa", "token_malformed_json")
            response = await _rsaa_token_response(http)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            response.json()


# --- id_token faults ---------------------------------------------------------------------------


def _expired(token: Token, registry: JWTClaimsRegistry) -> None:
    with pytest.raises(ExpiredTokenError):
        registry.validate(token.claims)


def _not_yet_valid(token: Token, registry: JWTClaimsRegistry) -> None:
    assert token.claims["nbf"] > time.time() + 600
    with pytest.raises(InvalidClaimError):
        registry.validate(token.claims)


def _wrong_claim(token: Token, registry: JWTClaimsRegistry) -> None:
    with pytest.raises(InvalidClaimError):
        registry.validate(token.claims)


ID_TOKEN_CHECKS: dict[str, Callable[[Token, JWTClaimsRegistry], None]] = {
    "id_token_expired": _expired,
    "id_token_not_yet_valid": _not_yet_valid,
    "id_token_wrong_aud": _wrong_claim,
    "id_token_wrong_iss": _wrong_claim,
}


@pytest.mark.parametrize("fault", list(ID_TOKEN_CHECKS))
async def test_esia_id_token_claim_faults(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty, fault: str) -> None:
    await _queue(http, "esia", fault)
    body = (await _esia_token_response(esia_rsa)).json()
    token = await esia_rsa.verify_id_token(body["id_token"])  # correctly signed, wrong inside
    registry = EsiaClaimsRegistry(iss={"essential": True, "value": "http://idp.test/esia/"},
                                  aud={"essential": True, "value": "rp-rsa"})
    ID_TOKEN_CHECKS[fault](token, registry)


@pytest.mark.parametrize("fault", list(ID_TOKEN_CHECKS))
async def test_rsaa_id_token_claim_faults(http: httpx.AsyncClient, fault: str) -> None:
    await _queue(http, "rsaa", fault)
    body = (await _rsaa_token_response(http)).json()
    token = jwt.decode(body["id_token"], await _rsaa_keys(http))
    registry = JWTClaimsRegistry(iss={"essential": True, "value": "http://idp.test/rsaa"},
                                 aud={"essential": True, "value": "rp"})
    ID_TOKEN_CHECKS[fault](token, registry)


async def test_bad_signature(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    await _queue(http, "esia", "id_token_bad_signature")
    body = (await _esia_token_response(esia_rsa)).json()
    with pytest.raises(BadSignatureError):
        await esia_rsa.verify_id_token(body["id_token"])

    await _queue(http, "rsaa", "id_token_bad_signature")
    body = (await _rsaa_token_response(http)).json()
    with pytest.raises(BadSignatureError):
        jwt.decode(body["id_token"], await _rsaa_keys(http))


async def test_alg_none(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    await _queue(http, "esia", "id_token_alg_none")
    await _queue(http, "rsaa", "id_token_alg_none")
    esia_token = (await _esia_token_response(esia_rsa)).json()["id_token"]
    rsaa_token = (await _rsaa_token_response(http)).json()["id_token"]
    for token in (esia_token, rsaa_token):
        assert token.endswith(".")
        assert json.loads(b64url_decode(token.split(".")[0]))["alg"] == "none"
    with pytest.raises(UnsupportedAlgorithmError):
        await esia_rsa.verify_id_token(esia_token)
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(rsaa_token, await _rsaa_keys(http), algorithms=["RS256"])


async def test_key_rotated(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    shipped = (await http.get("/_mock/esia/certificate")).text  # what the relying party was configured with
    await _queue(http, "esia", "key_rotated")
    body = (await _esia_token_response(esia_rsa)).json()
    with pytest.raises(BadSignatureError):
        decode_jwt(body["id_token"], load_verifier(shipped))
    republished = (await http.get("/_mock/esia/certificate")).json()
    assert republished["kid"] != json.loads(shipped)["kid"]
    assert decode_jwt(body["id_token"], load_verifier(json.dumps(republished))).claims["aud"] == "rp-rsa"

    cached = await _rsaa_keys(http)
    await _queue(http, "rsaa", "key_rotated")
    id_token = (await _rsaa_token_response(http)).json()["id_token"]
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(id_token, cached)
    fresh = await _rsaa_keys(http)
    assert len(fresh.keys) == 1 and fresh.keys[0].kid != cached.keys[0].kid
    assert jwt.decode(id_token, fresh).claims["aud"] == "rp"


async def test_userinfo_wrong_sub(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    body = (await _esia_token_response(esia_rsa)).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    await _queue(http, "esia", "userinfo_wrong_sub")
    wrong = (await http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}", headers=headers)).json()
    assert wrong["snils"] != SMIRNOVA["snils"]
    right = (await http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}", headers=headers)).json()
    assert right["snils"] == SMIRNOVA["snils"]

    token = (await _rsaa_token_response(http)).json()
    sub = jwt.decode(token["id_token"], await _rsaa_keys(http)).claims["sub"]
    await _queue(http, "rsaa", "userinfo_wrong_sub")
    userinfo = await http.get("/rsaa/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert userinfo.json()["sub"] != sub


# --- the queue itself --------------------------------------------------------------------------


async def test_fault_queue_api(http: httpx.AsyncClient) -> None:
    listing = (await http.get("/_mock/faults")).json()
    assert listing["faults"] == [] and "key_rotated" in listing["available"]
    bad = await http.post("/_mock/faults", json={"provider": "esia", "fault": "meteor_strike"})
    assert bad.status_code == 400
    assert (await http.post("/_mock/faults", json={"provider": "vk", "fault": "token_500"})).status_code == 400
    await _queue(http, "rsaa", "token_500", count=2)
    assert (await _rsaa_token_response(http)).status_code == 500
    assert (await http.get("/_mock/faults")).json()["faults"] == [{"provider": "rsaa", "fault": "token_500",
                                                                   "count": 1}]
    assert (await http.delete("/_mock/faults")).json() == {"faults": []}
    assert (await _rsaa_token_response(http)).status_code == 200
    form = await http.post("/_mock/faults", data={"provider": "esia", "fault": "token_500", "count": "1"})
    assert form.status_code == 303
    page = await http.get("/_mock/")
    assert "token_500" in page.text and "Пульт тестировщика" in page.text


async def test_faults_queued_at_start_up(config: MockConfig) -> None:
    app = create_app(replace(config, faults=("rsaa:token_500", "consent_refused")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp.test") as http:
        queued = (await http.get("/_mock/faults")).json()["faults"]
        assert {(f["provider"], f["fault"]) for f in queued} == {
            ("rsaa", "token_500"), ("esia", "consent_refused"), ("rsaa", "consent_refused")}
        await http.post("/_mock/reset")
        assert len((await http.get("/_mock/faults")).json()["faults"]) == 3
