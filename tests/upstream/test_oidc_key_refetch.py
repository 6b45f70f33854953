"""The OIDC connector refetches JWKS on an unknown kid, but boundedly (unit test of the HTTP edge)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from bridge.config import Secret
from bridge.upstream.base import UpstreamError
from bridge.upstream.oidc import OidcProvider
from tests.support.discovery import discovery_document

ISSUER = "https://sso.test"
REDIRECT = "https://bridge.test/login/callback/rsaa"

pytestmark = pytest.mark.anyio


def id_token(key: RSAKey, nonce: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "bridge", "sub": "u-1", "iat": now, "exp": now + 300, "nonce": nonce}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def provider_routes(router: respx.MockRouter, jwks: list[RSAKey]) -> respx.Route:
    router.get(f"{ISSUER}/.well-known/openid-configuration").respond(json=discovery_document(ISSUER, userinfo=False))
    return router.get(f"{ISSUER}/jwks").mock(
        side_effect=lambda request: httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in jwks]})
    )


def callback(start: Any) -> dict[str, str]:
    return {"code": "c", "state": start.parked["state"]}


def make_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


async def test_unknown_kid_refetches_once_and_then_stops() -> None:
    old, new = make_key("old"), make_key("new")
    published = [old]
    provider = OidcProvider(key="rsaa", title="РСАА", issuer=ISSUER, client_id="bridge", client_secret=Secret("s"))
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as router:
            jwks = provider_routes(router, published)
            start = await provider.start_authorization(http, REDIRECT)
            router.post(f"{ISSUER}/token").respond(json={"id_token": id_token(old, start.parked["nonce"])})
            await provider.finish_authorization(http, callback(start), start.parked, REDIRECT)
            assert jwks.call_count == 1

            # The provider rotates: a token signed with a kid we have not seen yet.
            published[:] = [new]
            start = await provider.start_authorization(http, REDIRECT)
            router.post(f"{ISSUER}/token").respond(json={"id_token": id_token(new, start.parked["nonce"])})
            # Keys were fetched a moment ago: no refetch within the interval, the token is refused.
            with pytest.raises(UpstreamError) as refused:
                await provider.finish_authorization(http, callback(start), start.parked, REDIRECT)
            assert refused.value.code == "upstream_rejected"
            assert jwks.call_count == 1

            # After the interval one refetch finds the new key.
            provider._keys_at -= provider.keys_refetch_interval + 1
            await provider.finish_authorization(http, callback(start), start.parked, REDIRECT)
            assert jwks.call_count == 2

            # A forger's unknown kid after the interval costs one fetch, then nothing more.
            forged = make_key("forged")
            provider._keys_at -= provider.keys_refetch_interval + 1
            for _ in range(3):
                start = await provider.start_authorization(http, REDIRECT)
                router.post(f"{ISSUER}/token").respond(json={"id_token": id_token(forged, start.parked["nonce"])})
                with pytest.raises(UpstreamError):
                    await provider.finish_authorization(http, callback(start), start.parked, REDIRECT)
            assert jwks.call_count == 3
