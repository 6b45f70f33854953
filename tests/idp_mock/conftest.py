"""Fixtures: one mock app per test (keys shared per session), and httpx clients routed into it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gost_jws import GostPrivateKey, RsaPrivateKey, export_private, export_public
from idp_mock import EsiaClient, MockConfig, RsaaClient, create_app

from .esia_rp import EsiaRelyingParty

BASE_URL = "http://idp.test"
ESIA_CALLBACK = "https://rp.test/login/callback/esia"
RSAA_CALLBACK = "https://rp.test/login/callback/rsaa"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def rp_gost_key() -> GostPrivateKey:
    return GostPrivateKey.generate()


@pytest.fixture(scope="session")
def rp_rsa_key() -> RsaPrivateKey:
    return RsaPrivateKey.generate()


@pytest.fixture(scope="session")
def mock_esia_key() -> GostPrivateKey:
    return GostPrivateKey.generate()


@pytest.fixture(scope="session")
def mock_rsaa_key() -> RsaPrivateKey:
    return RsaPrivateKey.generate()


@pytest.fixture
def config(
    rp_gost_key: GostPrivateKey, rp_rsa_key: RsaPrivateKey, mock_esia_key: GostPrivateKey, mock_rsaa_key: RsaPrivateKey
) -> MockConfig:
    return MockConfig(
        public_base_url=BASE_URL,
        esia_clients=(
            EsiaClient("rp-gost", (ESIA_CALLBACK,), export_public(rp_gost_key),
                       logout_redirect_uris=("https://rp.test/",)),
            EsiaClient("rp-rsa", (ESIA_CALLBACK,), export_public(rp_rsa_key)),
        ),
        rsaa_clients=(
            RsaaClient("rp", "rp-secret", (RSAA_CALLBACK,), post_logout_redirect_uris=("https://rp.test/",)),
            RsaaClient("rp-post", "rp-post-secret", (RSAA_CALLBACK,),
                       token_endpoint_auth_methods=("client_secret_post",), require_pkce=True),
        ),
        esia_signing_key=export_private(mock_esia_key),
        rsaa_signing_key=export_private(mock_rsaa_key),
        token_timeout_delay_seconds=2.0,
    )


@pytest.fixture
def app(config: MockConfig) -> Starlette:
    return create_app(config)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def esia_gost(http: httpx.AsyncClient, rp_gost_key: GostPrivateKey) -> EsiaRelyingParty:
    return EsiaRelyingParty(http, "rp-gost", rp_gost_key, ESIA_CALLBACK)


@pytest.fixture
def esia_rsa(http: httpx.AsyncClient, rp_rsa_key: RsaPrivateKey) -> EsiaRelyingParty:
    return EsiaRelyingParty(http, "rp-rsa", rp_rsa_key, ESIA_CALLBACK)
