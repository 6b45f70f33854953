from __future__ import annotations

import pytest
from authlib.oauth2 import rfc9207
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.services.clients import register_client
from bridge.services.signing_keys import rotate_signing_key
from tests.op.conftest import REDIRECT_URI, App, Person, signed_in_tokens
from tests.support.keys import keyring_of


def test_discovery_advertises_exactly_what_is_supported(client: TestClient) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json()
    checked = OpenIDProviderMetadata(metadata)
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                 "subject_types_supported", "scopes_supported", "code_challenge_methods_supported"):
        getattr(checked, f"validate_{name}")()
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
    # The default first; RS256 always (Discovery 1.0 §3), and both really sign (per-client choice).
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    # RFC 9207: authorization responses carry `iss`.
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "roles"} <= set(metadata["scopes_supported"])
    assert {"sub", "role", "organization", "roles", "acr", "amr", "sid"} <= set(metadata["claims_supported"])
    assert "none" in metadata["prompt_values_supported"]


def test_oauth_authorization_server_metadata_is_the_same_document(client: TestClient) -> None:
    """RFC 8414: the metadata also at /.well-known/oauth-authorization-server, valid by its rules."""
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata == client.get("/.well-known/openid-configuration").json()
    AuthorizationServerMetadata(metadata).validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    assert metadata["issuer"] == "https://bridge.test"


def test_jwks_publishes_public_es256_and_rs256_keys(client: TestClient) -> None:
    keys = client.get("/oidc/jwks").json()["keys"]
    assert sorted(key["alg"] for key in keys) == ["ES256", "RS256"]
    ec = next(key for key in keys if key["alg"] == "ES256")
    assert ec["kty"] == "EC" and ec["crv"] == "P-256" and ec["kid"]
    rsa = next(key for key in keys if key["alg"] == "RS256")
    assert rsa["kty"] == "RSA" and rsa["kid"]
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(key) for key in keys)


def _register(db_factory: sessionmaker[Session], settings: Settings, client_id: str, alg: str | None) -> App:
    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name=client_id, redirect_uris=[REDIRECT_URI], client_id=client_id,
            id_token_alg=alg,
        )
    return App(client_id, registered.client_secret)


def test_each_app_gets_id_tokens_signed_as_it_registered(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    published = KeySet.import_key_set(client.get("/oidc/jwks").json())
    for client_id, registered_alg, expected in (("rsa-app", "RS256", "RS256"), ("ec-app", "ES256", "ES256"),
                                                 ("default-app", None, "ES256")):
        app = _register(db_factory, settings, client_id, registered_alg)
        tokens = signed_in_tokens(client, settings, db_factory, app, director)
        id_token = jwt.decode(tokens["id_token"], published, algorithms=[expected])
        assert id_token.header["alg"] == expected and id_token.claims["aud"] == client_id
        # Only the registered algorithm: an RS256 app must not accept an ES256 token and vice versa.
        other = "ES256" if expected == "RS256" else "RS256"
        with pytest.raises(JoseError):
            jwt.decode(tokens["id_token"], published, algorithms=[other])
        assert client.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code == 200


def test_rs256_when_settings_say_so(
    settings: Settings, engine: Engine, db_factory: sessionmaker[Session], director: Person,
) -> None:
    rsa_settings = Settings(**{**settings.__dict__, "signing_alg": "RS256"})
    app = create_app(rsa_settings, runtime=build_runtime(rsa_settings, engine=engine))
    with TestClient(app, base_url="https://bridge.test") as rsa_client:
        assert rsa_client.get("/.well-known/openid-configuration").json()[
            "id_token_signing_alg_values_supported"
        ] == ["RS256", "ES256"]
        published = KeySet.import_key_set(rsa_client.get("/oidc/jwks").json())
        tokens = signed_in_tokens(
            rsa_client, rsa_settings, db_factory, _register(db_factory, settings, "plain", None), director
        )
        assert jwt.decode(tokens["id_token"], published, algorithms=["RS256"]).header["alg"] == "RS256"
        assert jwt.decode(tokens["access_token"], published, algorithms=["RS256"]).header["typ"] == "at+jwt"
        tokens = signed_in_tokens(
            rsa_client, rsa_settings, db_factory, _register(db_factory, settings, "ec-app", "ES256"), director
        )
        assert jwt.decode(tokens["id_token"], published, algorithms=["ES256"]).header["alg"] == "ES256"


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
    keys = client.get("/oidc/jwks").json()["keys"]
    old_kid = next(key["kid"] for key in keys if key["alg"] == "ES256")
    rsa_kid = next(key["kid"] for key in keys if key["alg"] == "RS256")
    with db_factory() as db, db.begin():
        new_kid = rotate_signing_key(db, "ES256", keyring=keyring_of(settings)).kid

    # A fresh process (or one whose key cache has expired) sees the rotation.
    restarted = create_app(settings, runtime=build_runtime(settings, engine=engine))
    with TestClient(restarted, base_url="https://bridge.test") as other:
        published = KeySet.import_key_set(other.get("/oidc/jwks").json())
        # The RS256 key is untouched by an ES256 rotation.
        assert {key.kid for key in published.keys} == {old_kid, new_kid, rsa_kid}
        # Tokens signed before the rotation still verify against the published set...
        assert jwt.decode(old_tokens["id_token"], published, algorithms=["ES256"]).header["kid"] == old_kid
        # ...and new ones are signed with the new key.
        new_tokens = signed_in_tokens(other, settings, db_factory, confidential_app, director)
        assert jwt.decode(new_tokens["id_token"], published, algorithms=["ES256"]).header["kid"] == new_kid
        # The old access token still works at userinfo: the old key is still trusted.
        response = other.get("/oidc/userinfo", headers={"Authorization": f"Bearer {old_tokens['access_token']}"})
        assert response.status_code == 200
