"""РСАА is plain OIDC: authlib's client completes the code flow with PKCE, joserfc checks the id_token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from starlette.applications import Starlette

from .conftest import RSAA_CALLBACK
from .esia_rp import KIM_NO_PATRONYMIC_EMAIL, POPOVA_TWO_ORGS_EMAIL, SMIRNOVA
from .rsaa_rp import DISCOVERY, sign_in

pytestmark = pytest.mark.anyio
ISSUER = "http://idp.test/rsaa"


@pytest.fixture
async def oidc(app: Starlette) -> AsyncIterator[AsyncOAuth2Client]:
    async with AsyncOAuth2Client(
        "rp", "rp-secret", scope="openid profile email employee groups", redirect_uri=RSAA_CALLBACK,
        code_challenge_method="S256", transport=httpx.ASGITransport(app=app),
    ) as client:
        yield client


async def _discovery(http: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = (await http.get(DISCOVERY)).json()
    return body


async def test_standard_client_completes_the_code_flow(http: httpx.AsyncClient, oidc: AsyncOAuth2Client) -> None:
    meta = await _discovery(http)
    assert meta["issuer"] == ISSUER and meta["jwks_uri"] == f"{ISSUER}/jwks"
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = oidc.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    redirect = await sign_in(http, url, SMIRNOVA["mobile"])
    assert redirect.headers["location"].startswith(RSAA_CALLBACK)

    token = await oidc.fetch_token(meta["token_endpoint"], authorization_response=redirect.headers["location"],
                                   state=state, code_verifier=verifier)
    keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert id_token.header["kid"] == keys.keys[0].kid
    JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "rp"},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
    ).validate(id_token.claims)
    claims = id_token.claims
    assert claims["company"] == "ГБОУ Школа № 1535" and claims["position"] == "Учитель математики"
    assert claims["family_name"] == "Смирнова" and claims["amr"] == ["password"]

    userinfo = (await oidc.get(meta["userinfo_endpoint"])).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == SMIRNOVA["email"] and userinfo["department"]


async def test_client_secret_post_and_multiple_organizations(app: Starlette, http: httpx.AsyncClient) -> None:
    meta = await _discovery(http)
    async with AsyncOAuth2Client(
        "rp-post", "rp-post-secret", token_endpoint_auth_method="client_secret_post", scope="openid groups",
        redirect_uri=RSAA_CALLBACK, code_challenge_method="S256", transport=httpx.ASGITransport(app=app),
    ) as client:
        verifier = generate_token(48)
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
        redirect = await sign_in(http, url, POPOVA_TWO_ORGS_EMAIL)
        token = await client.fetch_token(meta["token_endpoint"], authorization_response=redirect.headers["location"],
                                         state=state, code_verifier=verifier)
    claims = jwt.decode(token["id_token"], KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())).claims
    assert claims["groups"] == ["МБОУ СОШ № 12", "МБУ ДО ДДТ"]
    assert "email" not in claims and "nonce" not in claims


async def test_person_without_patronymic(http: httpx.AsyncClient, oidc: AsyncOAuth2Client) -> None:
    meta = await _discovery(http)
    verifier = generate_token(48)
    url, state = oidc.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    redirect = await sign_in(http, url, KIM_NO_PATRONYMIC_EMAIL)
    token = await oidc.fetch_token(meta["token_endpoint"], authorization_response=redirect.headers["location"],
                                   state=state, code_verifier=verifier)
    assert token["id_token"]
    userinfo = (await oidc.get(meta["userinfo_endpoint"])).json()
    assert userinfo["name"] == "Ким Алина" and "middle_name" not in userinfo


async def test_single_sign_on_prompt_and_logout(http: httpx.AsyncClient, oidc: AsyncOAuth2Client) -> None:
    meta = await _discovery(http)
    url, _ = oidc.create_authorization_url(meta["authorization_endpoint"], prompt="none")
    assert "error=login_required" in (await http.get(url)).headers["location"]

    verifier = generate_token(48)
    url, state = oidc.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    redirect = await sign_in(http, url, SMIRNOVA["email"])
    token = await oidc.fetch_token(meta["token_endpoint"], authorization_response=redirect.headers["location"],
                                   state=state, code_verifier=verifier)
    url, _ = oidc.create_authorization_url(meta["authorization_endpoint"], prompt="none")
    assert "code=" in (await http.get(url)).headers["location"]

    bye = await http.get(meta["end_session_endpoint"], params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://rp.test/", "state": "s1"})
    assert bye.status_code == 302 and bye.headers["location"] == "https://rp.test/?state=s1"
    url, _ = oidc.create_authorization_url(meta["authorization_endpoint"], prompt="none")
    assert "error=login_required" in (await http.get(url)).headers["location"]

    evil = await http.get(meta["end_session_endpoint"], params={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.test/"})
    assert evil.status_code == 400 and "location" not in evil.headers


async def test_refresh_token(http: httpx.AsyncClient, oidc: AsyncOAuth2Client) -> None:
    meta = await _discovery(http)
    verifier = generate_token(48)
    url, state = oidc.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    redirect = await sign_in(http, url, SMIRNOVA["email"])
    token = await oidc.fetch_token(meta["token_endpoint"], authorization_response=redirect.headers["location"],
                                   state=state, code_verifier=verifier)
    refreshed = await oidc.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]


async def test_reachable_through_respx(app: Starlette) -> None:
    """How other test suites route a real client's calls into the mock."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="idp.test").mock(side_effect=respx.ASGIHandler(app))
        async with httpx.AsyncClient() as client:
            meta = (await client.get(f"{ISSUER}/.well-known/openid-configuration")).json()
    assert meta["token_endpoint"] == f"{ISSUER}/token"
