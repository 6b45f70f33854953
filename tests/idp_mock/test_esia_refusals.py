"""ESIA refuses what the real one refuses, with ESIA's codes, and never redirects to an unknown URI."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from gost_jws import GostPrivateKey, RsaPrivateKey, client_secret, esia_timestamp

from .esia_rp import SMIRNOVA, TOKEN, EsiaRelyingParty, redirect_params

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)


async def test_unknown_client_gets_an_error_page_not_a_redirect(esia_rsa: EsiaRelyingParty) -> None:
    response = await esia_rsa.start(client_id="nobody")
    assert response.status_code == 400 and "location" not in response.headers
    assert "ESIA-007002" in response.text


async def test_unregistered_redirect_uri_gets_an_error_page(esia_rsa: EsiaRelyingParty) -> None:
    response = await esia_rsa.start(redirect_uri="https://evil.test/cb")
    assert response.status_code == 400 and "location" not in response.headers
    assert "ESIA-007023" in response.text


async def test_gost_client_secret_from_another_key_is_refused(esia_gost: EsiaRelyingParty) -> None:
    params = esia_gost.authorize_params()
    forged = client_secret(GostPrivateKey.generate(), params["client_id"], params["scope"], params["timestamp"],
                           params["state"], params["redirect_uri"])
    refused = redirect_params(await esia_gost.start(**{**params, "client_secret": forged}))
    assert refused["error"] == "invalid_client"
    assert refused["error_description"].startswith("ESIA-007053: ")
    assert refused["state"] == params["state"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"timestamp": esia_timestamp(datetime.now().astimezone() - HOUR)}, "ESIA-007015"),
        ({"timestamp": esia_timestamp(datetime.now().astimezone() + HOUR)}, "ESIA-007015"),
        ({"timestamp": datetime.now().astimezone().isoformat(timespec="seconds")}, "ESIA-007015"),
        ({"state": "not-a-uuid"}, "ESIA-007003"),
        ({"scope": ""}, "ESIA-007013"),
        ({"scope": "openid fullname telepathy"}, "ESIA-007006"),
        ({"scope": "openid id_doc"}, "ESIA-007006"),
        ({"client_certificate_hash": ""}, "ESIA-007014"),
        ({"client_certificate_hash": "00" * 32}, "ESIA-007002"),
        ({"response_type": "token"}, "ESIA-007009"),
    ],
)
async def test_authorization_refusals(esia_rsa: EsiaRelyingParty, overrides: dict[str, str], code: str) -> None:
    refused = redirect_params(await esia_rsa.start(**overrides))
    assert refused["error_description"].startswith(f"{code}: "), refused


async def test_signature_over_the_legacy_v1_concatenation_is_refused(esia_rsa: EsiaRelyingParty) -> None:
    params = esia_rsa.authorize_params()
    legacy = client_secret(esia_rsa.key, params["scope"], params["timestamp"], params["client_id"], params["state"])
    refused = redirect_params(await esia_rsa.start(**{**params, "client_secret": legacy}))
    assert refused["error_description"].startswith("ESIA-007053")


async def test_repeated_parameter_is_refused(esia_rsa: EsiaRelyingParty) -> None:
    params = httpx.QueryParams(esia_rsa.authorize_params()).add("scope", "openid")
    refused = redirect_params(await esia_rsa.http.get("/esia/aas/oauth2/v2/ac", params=params))
    assert refused["error_description"].startswith("ESIA-007003")


async def test_reused_code_is_refused_and_revokes_its_tokens(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty
                                                             ) -> None:
    code, _ = await esia_rsa.obtain_code()
    first = await esia_rsa.exchange(code)
    assert first.status_code == 200
    replay = await esia_rsa.exchange(code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.json()["error_description"].startswith("ESIA-007011")
    person = await http.get(f"/esia/rs/prns/{SMIRNOVA['oid']}",
                            headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert person.status_code == 401


async def test_token_signature_must_cover_the_code(esia_gost: EsiaRelyingParty) -> None:
    code, _ = await esia_gost.obtain_code()
    params = esia_gost.token_params(code)
    without_code = client_secret(esia_gost.key, params["client_id"], params["scope"], params["timestamp"],
                                 params["state"], params["redirect_uri"])
    refused = await esia_gost.http.post(TOKEN, data={**params, "client_secret": without_code})
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_client", "error_description": refused.json()["error_description"],
                              "state": params["state"]}
    assert refused.json()["error_description"].startswith("ESIA-007053")
    assert (await esia_gost.exchange(code)).status_code == 200  # a refused signature does not burn the code


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"client_id": "nobody"}, "ESIA-007002"),
        ({"redirect_uri": "https://evil.test/cb"}, "ESIA-007023"),
        ({"timestamp": esia_timestamp(datetime.now().astimezone() - HOUR)}, "ESIA-007015"),
        ({"state": "1234"}, "ESIA-007003"),
        ({"token_type": "Mac"}, "ESIA-007003"),
        ({"grant_type": "password"}, "ESIA-007012"),
        ({"scope": "openid fullname contacts"}, "ESIA-007006"),
        ({"code": "made-up"}, "ESIA-007011"),
    ],
)
async def test_token_refusals(esia_rsa: EsiaRelyingParty, overrides: dict[str, str], code: str) -> None:
    issued, _ = await esia_rsa.obtain_code()
    params = dict(overrides)
    response = await esia_rsa.exchange(params.pop("code", issued), **params)
    assert response.status_code == 400
    assert response.json()["error_description"].startswith(f"{code}: "), response.json()


async def test_code_issued_to_another_client_is_refused(
    http: httpx.AsyncClient, esia_gost: EsiaRelyingParty, rp_rsa_key: RsaPrivateKey
) -> None:
    code, _ = await esia_gost.obtain_code()
    thief = EsiaRelyingParty(http, "rp-rsa", rp_rsa_key, esia_gost.redirect_uri)
    response = await thief.exchange(code)
    assert response.status_code == 400 and response.json()["error_description"].startswith("ESIA-007011")
