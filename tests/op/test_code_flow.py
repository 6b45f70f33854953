from __future__ import annotations

import time

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from tests.op.conftest import (
    App,
    Person,
    authorization_request,
    exchange,
    get_code,
)
from tests.support.browser import sign_in_browser


def _verify(client: TestClient, token: str) -> jwt.Token:
    keys = KeySet.import_key_set(client.get("/oidc/jwks").json())
    return jwt.decode(token, keys, algorithms=["ES256"])


def test_confidential_app_signs_a_director_in(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    session_id = sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    code = get_code(client, request)

    response = exchange(client, confidential_app, code, request.verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == int(settings.access_token_ttl.total_seconds())
    assert tokens["refresh_token"]

    id_token = _verify(client, tokens["id_token"])
    assert id_token.header["alg"] == "ES256"
    claims = id_token.claims
    now = time.time()
    assert claims["iss"] == "https://bridge.test"
    assert claims["aud"] == "kontingent"
    assert now - 5 <= claims["iat"] <= now + 5 < claims["exp"]
    assert claims["nonce"] == request.params["nonce"]
    assert claims["sub"] == director.subject
    assert claims["name"] == "Иванова Мария Петровна"
    assert (claims["family_name"], claims["given_name"], claims["middle_name"]) == ("Иванова", "Мария", "Петровна")
    assert claims["preferred_username"] == "ivanova"
    assert claims["role"] == {"code": "school_director", "title": "Директор школы", "is_head": True}
    assert claims["organization"] == {
        "id": director.organization_id, "name": "МБОУ СОШ № 7", "kind": "school", "district": "Дзержинский",
    }
    assert claims["roles"] == [{**claims["role"], "organization": claims["organization"], "position": "директор"}]
    assert claims["acr"] == "urn:edu-bridge:idp:esia"
    # RFC 8176 values only (the session says ["fed", "pwd"]); the provider has its own claim.
    assert claims["amr"] == ["pwd"]
    assert claims["idp"] == "esia"
    assert abs(claims["auth_time"] - now) < 10
    assert claims["sid"] and session_id not in claims["sid"] and claims["sid"] != session_id
    assert "at_hash" in claims

    access = _verify(client, tokens["access_token"])
    assert access.header["typ"] == "at+jwt"
    assert "kontingent" in access.claims["aud"]
    assert access.claims["sid"] == claims["sid"]
    assert access.claims["amr"] == ["pwd"] and access.claims["idp"] == "esia"
    assert access.claims["grant_id"]
    assert access.claims["exp"] - access.claims["iat"] == tokens["expires_in"]

    userinfo = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    info = userinfo.json()
    assert info["sub"] == director.subject
    assert info["role"]["code"] == "school_director"
    assert info["organization"]["name"] == "МБОУ СОШ № 7"
    assert not {"amr", "acr", "idp", "auth_time"} & set(info)
    assert client.post(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json() == info


def test_client_secret_post_works_for_apps_registered_so(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    from bridge.services.clients import register_client

    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name="ЕКИС", redirect_uris=["https://ekis.test/cb"],
            auth_method="client_secret_post", client_id="ekis",
        )
    app = App("ekis", registered.client_secret, "https://ekis.test/cb")
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(app)
    code = get_code(client, request)
    form = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri,
        "code_verifier": request.verifier, "client_id": "ekis", "client_secret": registered.client_secret,
    }
    response = client.post("/oidc/token", data=form)
    assert response.status_code == 200, response.text


def test_public_app_with_pkce_gets_tokens_without_a_secret(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    public_app: App, director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(public_app, scope="openid profile")
    response = exchange(client, public_app, get_code(client, request), request.verifier)
    assert response.status_code == 200, response.text
    claims = _verify(client, response.json()["id_token"]).claims
    assert claims["aud"] == "ekis-mobile"
    # Only the granted scopes' claims: no role without the `roles` scope.
    assert "role" not in claims and "name" in claims


def test_person_without_patronymic_has_no_middle_name(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, deputy_and_director: tuple[Person, object],
) -> None:
    person, _ = deputy_and_director
    sign_in_browser(client, settings, db_factory, person.staff_id, person.role)
    request = authorization_request(confidential_app)
    claims = _verify(
        client, exchange(client, confidential_app, get_code(client, request), request.verifier).json()["id_token"]
    ).claims
    assert "middle_name" not in claims
    assert claims["name"] == "Петров Олег"
    # The chosen role, and every active role of the person.
    assert claims["role"]["code"] == "school_director"
    assert sorted(role["code"] for role in claims["roles"]) == ["responsible", "school_director"]
