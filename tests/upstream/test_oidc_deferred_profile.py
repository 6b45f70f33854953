"""The OIDC connector leaves userinfo out when asked to defer the profile, and checks it when fetched."""

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
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})

pytestmark = pytest.mark.anyio


def routes(router: respx.MockRouter, userinfo: dict[str, Any]) -> respx.Route:
    router.get(f"{ISSUER}/.well-known/openid-configuration").respond(json=discovery_document(ISSUER))
    router.get(f"{ISSUER}/jwks").respond(json={"keys": [KEY.as_dict(private=False)]})
    return router.get(f"{ISSUER}/userinfo").respond(json=userinfo)


def token_for(router: respx.MockRouter, nonce: str) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "bridge", "sub": "u-1", "iat": now, "exp": now + 300, "nonce": nonce, "acr": "a"}
    id_token = jwt.encode({"alg": "RS256", "kid": KEY.kid}, claims, KEY)
    router.post(f"{ISSUER}/token").respond(json={"id_token": id_token, "access_token": "at", "token_type": "Bearer"})


def provider() -> OidcProvider:
    return OidcProvider(key="rsaa", title="РСАА", issuer=ISSUER, client_id="bridge", client_secret=Secret("s"))


async def test_a_deferred_profile_costs_no_userinfo_request_until_it_is_completed() -> None:
    rsaa = provider()
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as router:
            userinfo = routes(router, {"sub": "u-1", "family_name": "Кузнецов", "given_name": "Андрей"})
            start = await rsaa.start_authorization(http, REDIRECT)
            token_for(router, start.parked["nonce"])
            callback = {"code": "c", "state": start.parked["state"]}
            deferred = await rsaa.finish_authorization(http, callback, start.parked, REDIRECT, defer_profile=True)
            assert userinfo.call_count == 0
            assert (deferred.subject, deferred.acr, deferred.surname) == ("u-1", "a", None)
            assert deferred.complete_profile is not None

            whole = await deferred.complete_profile()
            assert userinfo.call_count == 1
            assert (whole.subject, whole.acr, whole.surname, whole.name) == ("u-1", "a", "Кузнецов", "Андрей")
            assert whole.complete_profile is None


async def test_a_deferred_profile_is_still_checked_against_the_id_token_subject() -> None:
    rsaa = provider()
    async with httpx.AsyncClient() as http:
        with respx.mock(assert_all_called=False) as router:
            routes(router, {"sub": "someone-else", "family_name": "Другой"})
            start = await rsaa.start_authorization(http, REDIRECT)
            token_for(router, start.parked["nonce"])
            callback = {"code": "c", "state": start.parked["state"]}
            deferred = await rsaa.finish_authorization(http, callback, start.parked, REDIRECT, defer_profile=True)
            assert deferred.complete_profile is not None
            with pytest.raises(UpstreamError):
                await deferred.complete_profile()
            # Without deferring, the same answer is refused at once, as before.
            start = await rsaa.start_authorization(http, REDIRECT)
            token_for(router, start.parked["nonce"])
            callback = {"code": "c", "state": start.parked["state"]}
            with pytest.raises(UpstreamError):
                await rsaa.finish_authorization(http, callback, start.parked, REDIRECT)
