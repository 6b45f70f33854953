"""What ties a provider's answer to the request that asked for it, as the mock plays it: the nonce
(echoed, not echoed as production ESIA, or another one), `iss` on РСАА redirects, PKCE downgrade,
max_age and prompt=login, and the `acr` a person signs in with."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import MockConfig, create_app
from idp_mock.cli import build_config, parse_args

from .esia_rp import SMIRNOVA, EsiaRelyingParty, redirect_params
from .rsaa_rp import sign_in
from .test_rsaa_refusals import _authorize_url, _token_form

pytestmark = pytest.mark.anyio
NONCE = "0123456789abcdef0123456789abcdef"


async def _esia_id_token(esia: EsiaRelyingParty, **overrides: str) -> dict[str, Any]:
    # Log in and consent only when asked: the session and the consent are remembered.
    page = await esia.start(**overrides)
    if page.status_code == 200:
        page = await esia.login(page)
    if page.status_code == 200:
        page = await esia.consent(page)
    response = await esia.exchange(redirect_params(page)["code"])
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = (await esia.verify_id_token(response.json()["id_token"])).claims
    return claims


async def _rsaa_id_token(http: httpx.AsyncClient, **overrides: str) -> dict[str, Any]:
    code = redirect_params(await sign_in(http, _authorize_url(**overrides), SMIRNOVA["email"]))["code"]
    response = await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))
    assert response.status_code == 200, response.text
    keys = KeySet.import_key_set((await http.get("/rsaa/jwks")).json())
    claims: dict[str, Any] = jwt.decode(response.json()["id_token"], keys).claims
    return claims


async def _behaviour(http: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await http.post("/_mock/behaviour", json=changes)


# --- ESIA's nonce: echoed by default, not echoed behind the switch ------------------------------


async def test_esia_echoes_the_nonce_until_the_switch_turns_it_off(
    http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty
) -> None:
    assert (await http.get("/_mock/behaviour")).json() == {"esia_echo_nonce": True}
    assert (await _esia_id_token(esia_rsa, nonce=NONCE))["nonce"] == NONCE

    switched = await _behaviour(http, esia_echo_nonce=False)
    assert switched.status_code == 200 and switched.json() == {"esia_echo_nonce": False}
    for _ in range(2):  # a lasting behaviour, not a one-shot fault
        assert "nonce" not in await _esia_id_token(esia_rsa, nonce=NONCE)
    # РСАА is not affected.
    assert (await _rsaa_id_token(http, nonce="n-1"))["nonce"] == "n-1"

    await http.post("/_mock/reset")
    assert (await _esia_id_token(esia_rsa, nonce=NONCE))["nonce"] == NONCE


async def test_the_switch_from_the_tester_page_and_bad_requests(http: httpx.AsyncClient) -> None:
    form = await http.post("/_mock/behaviour", data={"esia_echo_nonce": "false"})
    assert form.status_code == 303
    assert (await http.get("/_mock/behaviour")).json() == {"esia_echo_nonce": False}
    page = await http.get("/_mock/")
    assert "не возвращать" in page.text and "/_mock/behaviour" in page.text

    assert (await _behaviour(http, esia_echo_nonce="no")).status_code == 400
    assert (await _behaviour(http, rsaa_echo_nonce=False)).status_code == 400
    assert (await http.post("/_mock/behaviour", content=b"[1]",
                            headers={"content-type": "application/json"})).status_code == 400
    assert (await http.get("/_mock/behaviour")).json() == {"esia_echo_nonce": False}


async def test_a_mock_started_without_the_echo(config: MockConfig, esia_rsa: EsiaRelyingParty) -> None:
    assert build_config(parse_args(["--esia-no-nonce"])).esia_echo_nonce is False
    assert build_config(parse_args([])).esia_echo_nonce is True
    app = create_app(replace(config, esia_echo_nonce=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp.test") as http:
        esia = replace(esia_rsa, http=http)
        assert "nonce" not in await _esia_id_token(esia, nonce=NONCE)
        await http.post("/_mock/reset")
        assert (await http.get("/_mock/behaviour")).json() == {"esia_echo_nonce": False}


# --- nonce faults, both providers ----------------------------------------------------------------


async def test_nonce_faults(http: httpx.AsyncClient, esia_rsa: EsiaRelyingParty) -> None:
    for provider in ("esia", "rsaa"):
        for fault in ("id_token_nonce_missing", "id_token_nonce_other"):
            queued = await http.post("/_mock/faults", json={"provider": provider, "fault": fault})
            assert queued.status_code == 201
            sent = NONCE if provider == "esia" else "n-" + fault
            claims = (
                await _esia_id_token(esia_rsa, nonce=sent) if provider == "esia"
                else await _rsaa_id_token(http, nonce=sent)
            )
            if fault == "id_token_nonce_missing":
                assert "nonce" not in claims
            else:
                assert claims["nonce"] and claims["nonce"] != sent
        # Fired once: the next token is normal again.
        normal = await _esia_id_token(esia_rsa, nonce=NONCE) if provider == "esia" else await _rsaa_id_token(
            http, nonce="n-1")
        assert normal["nonce"] == (NONCE if provider == "esia" else "n-1")


# --- РСАА: iss on every redirect, PKCE downgrade, max_age, acr -----------------------------------


async def test_rsaa_sends_iss_on_every_redirect_and_announces_it(http: httpx.AsyncClient) -> None:
    meta = (await http.get("/rsaa/.well-known/openid-configuration")).json()
    assert meta["authorization_response_iss_parameter_supported"] is True
    refused = redirect_params(await http.get(_authorize_url(prompt="none")))
    assert refused["error"] == "login_required" and refused["iss"] == "http://idp.test/rsaa"
    success = redirect_params(await sign_in(http, _authorize_url(), SMIRNOVA["email"]))
    assert success["iss"] == "http://idp.test/rsaa" and success["code"]
    invalid = redirect_params(await http.get(_authorize_url(max_age="soon")))
    assert invalid["error"] == "invalid_request" and invalid["iss"] == "http://idp.test/rsaa"


async def test_rsaa_refuses_a_verifier_for_a_code_issued_without_a_challenge(http: httpx.AsyncClient) -> None:
    """RFC 9700 2.1.1: an attacker who stripped code_challenge from the request cannot use PKCE's verifier."""
    code = redirect_params(await sign_in(http, _authorize_url(code_challenge="", code_challenge_method=""),
                                         SMIRNOVA["email"]))["code"]
    refused = await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert "without code_challenge" in refused.json()["error_description"]


async def test_rsaa_max_age_and_prompt_login_ask_again(http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    # The SSO session was made an hour ago.
    real = time.time
    monkeypatch.setattr("idp_mock.store.time", type("Clock", (), {"time": staticmethod(lambda: real() - 3600)}))
    first = await _rsaa_id_token(http)
    monkeypatch.undo()
    assert abs(first["auth_time"] - (real() - 3600)) < 5

    # Within max_age (or without one) the session answers at once, with its auth_time.
    assert (await http.get(_authorize_url(max_age="7200"))).status_code == 302
    assert (await _rsaa_id_token(http))["auth_time"] == first["auth_time"]
    for fresh in ({"max_age": "600"}, {"prompt": "login"}):
        login_page = await http.get(_authorize_url(**fresh))
        assert login_page.status_code == 200 and 'autocomplete="username"' in login_page.text
    none = redirect_params(await http.get(_authorize_url(prompt="none", max_age="600")))
    assert none["error"] == "login_required"
    # Signing in again gives a new auth_time.
    again = await _rsaa_id_token(http, max_age="600")
    assert again["auth_time"] >= int(real()) - 5


async def test_rsaa_reports_the_persons_acr(http: httpx.AsyncClient) -> None:
    assert (await _rsaa_id_token(http))["acr"] == "1"
    changed = await http.post("/_mock/persons", json={"oid": SMIRNOVA["oid"], "rsaa": {"acr": "2"}})
    assert changed.status_code == 200 and changed.json()["rsaa"]["acr"] == "2"
    assert (await _rsaa_id_token(http, acr_values="2"))["acr"] == "2"
    meta = (await http.get("/rsaa/.well-known/openid-configuration")).json()
    assert "acr" in meta["claims_supported"] and meta["acr_values_supported"]
