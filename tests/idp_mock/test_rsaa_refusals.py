"""РСАА refuses what a standard OpenID Provider refuses."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import httpx
import pytest

from .conftest import RSAA_CALLBACK
from .esia_rp import SMIRNOVA, redirect_params
from .rsaa_rp import sign_in

pytestmark = pytest.mark.anyio
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _authorize_url(**overrides: str) -> str:
    params = {"client_id": "rp", "redirect_uri": RSAA_CALLBACK, "response_type": "code", "scope": "openid profile",
              "state": "st-1", "code_challenge": CHALLENGE, "code_challenge_method": "S256", **overrides}
    return "/rsaa/authorize?" + urlencode({key: value for key, value in params.items() if value})


async def _code(http: httpx.AsyncClient, **overrides: str) -> str:
    return redirect_params(await sign_in(http, _authorize_url(**overrides), SMIRNOVA["email"]))["code"]


def _token_form(code: str, **overrides: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": RSAA_CALLBACK,
            "code_verifier": VERIFIER, **overrides}


async def test_pkce_verifier_mismatch(http: httpx.AsyncClient) -> None:
    code = await _code(http)
    response = await http.post("/rsaa/token", data=_token_form(code, code_verifier="w" * 50),
                               auth=("rp", "rp-secret"))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_wrong_client_secret(http: httpx.AsyncClient) -> None:
    code = await _code(http)
    response = await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "wrong"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    posted = await http.post("/rsaa/token", data=_token_form(code, client_id="rp", client_secret="wrong"))
    assert posted.status_code == 401
    assert (await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))).status_code == 200


async def test_auth_method_not_registered_for_the_client(http: httpx.AsyncClient) -> None:
    code = await _code(http, client_id="rp-post")
    response = await http.post("/rsaa/token", data=_token_form(code), auth=("rp-post", "rp-post-secret"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_reused_code_and_wrong_redirect_uri(http: httpx.AsyncClient) -> None:
    code = await _code(http)
    wrong = await http.post("/rsaa/token", data=_token_form(code, redirect_uri="https://rp.test/other"),
                            auth=("rp", "rp-secret"))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    first = await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))
    assert first.status_code == 200
    again = await http.post("/rsaa/token", data=_token_form(code), auth=("rp", "rp-secret"))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    userinfo = await http.get("/rsaa/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert userinfo.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid telepathy"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"client_id": "rp-post", "code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
    ],
)
async def test_authorization_refusals_redirect_back(http: httpx.AsyncClient, overrides: dict[str, str], error: str
                                                    ) -> None:
    refused = redirect_params(await http.get(_authorize_url(**overrides)))
    assert refused["error"] == error and refused["state"] == "st-1"


@pytest.mark.parametrize("overrides", [{"client_id": "nobody"}, {"redirect_uri": "https://evil.test/cb"}])
async def test_unknown_client_or_redirect_uri_never_redirects(http: httpx.AsyncClient, overrides: dict[str, str]
                                                              ) -> None:
    response = await http.get(_authorize_url(**overrides))
    assert response.status_code == 400 and "location" not in response.headers


async def test_unsupported_grant_type(http: httpx.AsyncClient) -> None:
    response = await http.post("/rsaa/token", data={"grant_type": "password"}, auth=("rp", "rp-secret"))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
