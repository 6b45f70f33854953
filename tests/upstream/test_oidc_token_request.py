"""The OIDC connector's token request: the form httpx's `data=` would send, to the endpoint discovered."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.config import Secret
from bridge.upstream.oidc import OidcProvider
from tests.support.discovery import discovery_document

ISSUER = "https://sso.test"
REDIRECT = "https://bridge.test/login/callback/rsaa"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})

pytestmark = pytest.mark.anyio


def id_token(nonce: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "bridge", "sub": "u-1", "iat": now, "exp": now + 300, "nonce": nonce}
    return jwt.encode({"alg": "RS256", "kid": KEY.kid}, claims, KEY)


async def test_the_token_request_is_the_form_post_and_follows_a_moved_token_endpoint() -> None:
    rsaa = OidcProvider(key="rsaa", title="РСАА", issuer=ISSUER, client_id="bridge", client_secret=Secret("s&e:cret"))
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request, nonce: str) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id_token": id_token(nonce), "token_type": "Bearer"})

    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as router:
            router.get(f"{ISSUER}/.well-known/openid-configuration").respond(json=discovery_document(ISSUER))
            router.get(f"{ISSUER}/jwks").respond(json={"keys": [KEY.as_dict(private=False)]})
            for endpoint in ("token", "token-2"):
                if endpoint == "token-2":
                    # A newer discovery document names another token endpoint: the request goes there.
                    rsaa._metadata = {**discovery_document(ISSUER), "token_endpoint": f"{ISSUER}/token-2"}
                start = await rsaa.start_authorization(http, REDIRECT)
                nonce = str(start.parked["nonce"])
                router.post(f"{ISSUER}/{endpoint}").mock(side_effect=lambda request, n=nonce: answer(request, n))
                identity = await rsaa.finish_authorization(
                    http, {"code": "c/1 +", "state": start.parked["state"]}, start.parked, REDIRECT
                )
                assert identity.subject == "u-1"
    assert [str(request.url) for request in seen] == [f"{ISSUER}/token", f"{ISSUER}/token-2"]
    request = seen[-1]
    form = {"grant_type": "authorization_code", "code": "c/1 +", "redirect_uri": REDIRECT,
            "code_verifier": start.parked["code_verifier"]}
    # Byte for byte what `http.post(url, data=form)` sends, with its headers.
    assert request.content == httpx.Request("POST", request.url, data=form).content
    assert dict(parse_qsl(request.content.decode())) == form
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["content-length"] == str(len(request.content))
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == "Basic YnJpZGdlOnMlMjZlJTNBY3JldA=="
