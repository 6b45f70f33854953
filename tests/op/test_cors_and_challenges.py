"""What a browser app and a misbehaving client see: CORS only for registered origins, and
challenges as RFC 6750 and RFC 7617 write them; every refusal audited without the token."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.clients import register_client
from bridge.storage.models import AuditEvent
from tests.op.conftest import App, Person, authorization_request, exchange, get_code, signed_in_tokens
from tests.support.browser import sign_in_browser

APP_ORIGIN = "https://kontingent.test"
SPA_ORIGIN = "https://spa.ekis.test"
EVIL_ORIGIN = "https://evil.test"


def _events(db_factory: sessionmaker[Session], name: str) -> list[AuditEvent]:
    with db_factory() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))


def _preflight(client: TestClient, path: str, origin: str, method: str = "POST") -> Any:
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_preflight_is_answered_for_registered_origins_only(
    client: TestClient, db_factory: sessionmaker[Session], settings: Settings, confidential_app: App,
) -> None:
    with db_factory() as db, db.begin():
        register_client(db, settings.secret_key, name="ЕКИС SPA", redirect_uris=["https://ekis.test/cb"],
                        public=True, client_id="ekis-spa", web_origins=[SPA_ORIGIN])
    for path, method in (("/oidc/token", "POST"), ("/oidc/userinfo", "GET")):
        for origin in (APP_ORIGIN, SPA_ORIGIN):
            answer = _preflight(client, path, origin, method)
            assert answer.status_code == 204, (path, origin)
            assert answer.headers["access-control-allow-origin"] == origin
            assert method in answer.headers["access-control-allow-methods"]
            assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        for origin in (EVIL_ORIGIN, "null", APP_ORIGIN + ".evil.test", "http://kontingent.test", "https://KONTINGENT.test.",
                       "*"):
            answer = _preflight(client, path, origin, method)
            assert answer.status_code == 403, (path, origin)
            assert "access-control-allow-origin" not in answer.headers
    assert _preflight(client, "/oidc/token", APP_ORIGIN, "DELETE").status_code == 403


def test_userinfo_and_token_answers_name_only_the_apps_own_origin(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    own = client.get("/oidc/userinfo", headers={**bearer, "Origin": APP_ORIGIN})
    assert own.status_code == 200 and own.headers["access-control-allow-origin"] == APP_ORIGIN
    assert own.headers["vary"] == "Origin"
    # Another registered app's origin may not read this app's answers; a stranger's never.
    for origin in ("http://127.0.0.1:7000", EVIL_ORIGIN):
        other = client.get("/oidc/userinfo", headers={**bearer, "Origin": origin})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in client.get("/oidc/userinfo", headers=bearer).headers

    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(public_app)
    code = get_code(client, request)
    refused = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": code,
                                               "client_id": "ekis-mobile"}, headers={"Origin": EVIL_ORIGIN})
    assert "access-control-allow-origin" not in refused.headers
    answer = exchange(client, public_app, code, request.verifier, **{})
    assert answer.status_code == 200
    with_origin = client.post(
        "/oidc/token", data={"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"],
                             "client_id": "ekis-mobile"}, headers={"Origin": "http://127.0.0.1:7000"},
    )
    assert with_origin.status_code == 200
    assert with_origin.headers["access-control-allow-origin"] == "http://127.0.0.1:7000"


def test_discovery_and_jwks_stay_public(client: TestClient) -> None:
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/oidc/jwks"):
        assert client.get(path, headers={"Origin": EVIL_ORIGIN}).headers["access-control-allow-origin"] == "*"


def test_userinfo_challenges_follow_rfc_6750(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    # No token at all: a challenge with the realm and no error code (RFC 6750 §3.1).
    bare = client.get("/oidc/userinfo")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="https://bridge.test"'
    # A token that is not ours, or not a token: invalid_token.
    for header in ("Bearer not.a.jwt", "Bearer " + "x" * 5000):
        bad = client.get("/oidc/userinfo", headers={"Authorization": header})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"
        challenge = bad.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="https://bridge.test", ') and 'error="invalid_token"' in challenge
    # Basic credentials are not a bearer token: the bare challenge again.
    assert client.get("/oidc/userinfo", headers={"Authorization": "Basic Zm9vOmJhcg=="}).headers[
        "www-authenticate"] == 'Bearer realm="https://bridge.test"'
    # An id_token is signed by the same key but is not an access token.
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    as_access = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['id_token']}"})
    assert as_access.status_code == 401 and 'error="invalid_token"' in as_access.headers["www-authenticate"]

    refused = _events(db_factory, "oidc.userinfo.refused")
    assert [event.details["reason"] for event in refused] == [
        "no_token", "token_invalid", "token_invalid", "no_token", "token_invalid",
    ]
    for event in refused:
        assert tokens["id_token"] not in str(event.details) and "x" * 100 not in str(event.details)
    assert all(len(event.details.get("presented_hash", "0" * 16)) == 16 for event in refused)


def test_token_endpoint_basic_challenge_names_its_realm_and_refusals_are_audited(
    client: TestClient, confidential_app: App,
) -> None:
    response = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": "c"},
                           auth=("kontingent", "wrong-secret"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Basic realm="https://bridge.test"')
    # Basic credentials that are not even UTF-8: refused, not a 500.
    garbage = base64.b64encode(b"\xff\xfe:\xff").decode()
    response = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": "c"},
                           headers={"Authorization": f"Basic {garbage}"})
    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


def test_refused_token_requests_are_audited_without_the_token(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    bogus = "bogus-refresh-token-value-that-must-not-be-logged"
    for refresh_token in (bogus, tokens["refresh_token"] + "x"):
        client.post("/oidc/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    auth=(confidential_app.client_id, confidential_app.client_secret or ""))
    refused = _events(db_factory, "oidc.token.refused")
    assert [event.details["reason"] for event in refused] == ["refresh_token_unknown"] * 2
    for event in refused:
        assert bogus not in str(event.details) and tokens["refresh_token"] not in str(event.details)
        assert len(event.details["presented_hash"]) == 16 and event.actor == "relying-app"
