from __future__ import annotations

from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.services.signing_keys import rotate_signing_key
from tests.provider.conftest import App, Person, signed_in_tokens


def test_discovery_advertises_exactly_what_is_supported(client: TestClient) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json()
    checked = OpenIDProviderMetadata(metadata)
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                 "subject_types_supported", "scopes_supported", "code_challenge_methods_supported"):
        getattr(checked, f"validate_{name}")()
    # Discovery 1.0 asks for RS256 in this list; we advertise only the algorithm we really sign with.
    assert metadata["issuer"] == "https://bridge.test"
    assert metadata["authorization_endpoint"] == "https://bridge.test/oidc/authorize"
    assert metadata["token_endpoint"] == "https://bridge.test/oidc/token"
    assert metadata["userinfo_endpoint"] == "https://bridge.test/oidc/userinfo"
    assert metadata["jwks_uri"] == "https://bridge.test/oidc/jwks"
    assert metadata["end_session_endpoint"] == "https://bridge.test/oidc/logout"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "none",
    }
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    assert {"openid", "profile", "roles"} <= set(metadata["scopes_supported"])
    assert {"sub", "role", "organization", "roles", "acr", "amr", "sid"} <= set(metadata["claims_supported"])
    assert "none" in metadata["prompt_values_supported"]


def test_jwks_publishes_public_es256_keys_only(client: TestClient) -> None:
    keys = client.get("/oidc/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "EC" and keys[0]["crv"] == "P-256" and keys[0]["alg"] == "ES256"
    assert keys[0]["kid"]
    assert "d" not in keys[0]


def test_rs256_when_settings_say_so(settings: Settings, engine: Engine) -> None:
    rsa_settings = Settings(**{**settings.__dict__, "signing_alg": "RS256"})
    app = create_app(rsa_settings, runtime=build_runtime(rsa_settings, engine=engine))
    with TestClient(app, base_url="https://bridge.test") as rsa_client:
        assert rsa_client.get("/.well-known/openid-configuration").json()[
            "id_token_signing_alg_values_supported"
        ] == ["RS256"]
        keys = rsa_client.get("/oidc/jwks").json()["keys"]
    assert [key["kty"] for key in keys] == ["RSA"]
    assert all("d" not in key and "p" not in key for key in keys)


def test_keys_survive_a_restart(client: TestClient, settings: Settings, engine: Engine) -> None:
    before = client.get("/oidc/jwks").json()
    restarted = create_app(settings, runtime=build_runtime(settings, engine=engine))
    with TestClient(restarted, base_url="https://bridge.test") as other:
        after = other.get("/oidc/jwks").json()
    assert after == before


def test_rotation_keeps_the_old_key_published_and_signs_with_the_new(
    client: TestClient, settings: Settings, engine: Engine, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    old_tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    old_kid = client.get("/oidc/jwks").json()["keys"][0]["kid"]
    with db_factory() as db, db.begin():
        new_kid = rotate_signing_key(db, "ES256").kid

    # A fresh process (or one whose key cache has expired) sees the rotation.
    restarted = create_app(settings, runtime=build_runtime(settings, engine=engine))
    with TestClient(restarted, base_url="https://bridge.test") as other:
        published = KeySet.import_key_set(other.get("/oidc/jwks").json())
        assert {key.kid for key in published.keys} == {old_kid, new_kid}
        # Tokens signed before the rotation still verify against the published set...
        assert jwt.decode(old_tokens["id_token"], published, algorithms=["ES256"]).header["kid"] == old_kid
        # ...and new ones are signed with the new key.
        new_tokens = signed_in_tokens(other, settings, db_factory, confidential_app, director)
        assert jwt.decode(new_tokens["id_token"], published, algorithms=["ES256"]).header["kid"] == new_kid
        # The old access token still works at userinfo: the old key is still trusted.
        response = other.get("/oidc/userinfo", headers={"Authorization": f"Bearer {old_tokens['access_token']}"})
        assert response.status_code == 200
