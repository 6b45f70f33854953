"""RFC 7009 revocation and RFC 7662 introspection, as a relying app and a resource server use them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.clients import register_client
from bridge.services.signin_sessions import end_signin_session
from bridge.storage.models import AuditEvent, OAuthGrant, SignInSession
from tests.op.conftest import App, Person, refresh, signed_in_tokens


def _auth(app: App) -> dict[str, Any]:
    if app.client_secret is None:
        return {"data_extra": {"client_id": app.client_id}}
    return {"auth": (app.client_id, app.client_secret)}


def revoke(client: TestClient, app: App, token: str, hint: str | None = None) -> Any:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    auth = _auth(app)
    return client.post("/oidc/revoke", data={**form, **auth.get("data_extra", {})}, auth=auth.get("auth"))


def introspect(client: TestClient, app: App, token: str, hint: str | None = None) -> Any:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    auth = _auth(app)
    return client.post("/oidc/introspect", data={**form, **auth.get("data_extra", {})}, auth=auth.get("auth"))


def userinfo(client: TestClient, tokens: dict[str, Any]) -> int:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code


@pytest.fixture
def resource_server(db_factory: sessionmaker[Session], settings: Settings) -> App:
    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name="API расписания", redirect_uris=["https://api.test/unused"],
            client_id="schedule-api", introspect_any=True,
        )
    return App("schedule-api", registered.client_secret)


@pytest.fixture
def other_app(db_factory: sessionmaker[Session], settings: Settings) -> App:
    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name="ИС Питание", redirect_uris=["https://food.test/cb"], client_id="food",
        )
    return App("food", registered.client_secret, "https://food.test/cb")


def test_discovery_advertises_both_endpoints(client: TestClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["revocation_endpoint"] == "https://bridge.test/oidc/revoke"
    assert metadata["introspection_endpoint"] == "https://bridge.test/oidc/introspect"
    assert "none" in metadata["revocation_endpoint_auth_methods_supported"]
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True


def test_introspection_tells_an_app_about_its_live_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    answer = introspect(client, confidential_app, tokens["access_token"])
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["active"] is True and body["sub"] == director.subject and body["client_id"] == "kontingent"
    assert body["token_type"] == "Bearer" and body["sid"] and "openid" in body["scope"]
    refresh_answer = introspect(client, confidential_app, tokens["refresh_token"], "refresh_token").json()
    assert refresh_answer["active"] is True and refresh_answer["client_id"] == "kontingent"
    # A hint naming the wrong kind only changes which kind is tried first.
    assert introspect(client, confidential_app, tokens["refresh_token"], "access_token").json()["active"] is True
    assert introspect(client, confidential_app, "not-a-token").json() == {"active": False}


def test_revoking_a_refresh_token_revokes_its_grant_and_access_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert userinfo(client, tokens) == 200
    answer = revoke(client, confidential_app, tokens["refresh_token"], "refresh_token")
    assert answer.status_code == 200
    # Revoked at the server: the access token issued from the same grant is refused too.
    assert userinfo(client, tokens) == 401
    assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(client, confidential_app, tokens["access_token"]).json() == {"active": False}
    assert introspect(client, confidential_app, tokens["refresh_token"]).json() == {"active": False}
    with db_factory() as db:
        assert all(grant.revoked_at is not None for grant in db.scalars(select(OAuthGrant)))
        revoked = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.token.revoked")).one()
    assert revoked.details["kind"] == "refresh_token" and revoked.subject_staff_id == director.staff_id
    # Revoking again, or revoking nonsense, is still a 200 (RFC 7009 §2.2).
    assert revoke(client, confidential_app, tokens["refresh_token"]).status_code == 200
    assert revoke(client, confidential_app, "never-issued").status_code == 200


def test_revoking_an_access_token_makes_it_inactive(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert revoke(client, confidential_app, tokens["access_token"], "access_token").status_code == 200
    assert userinfo(client, tokens) == 401
    assert introspect(client, confidential_app, tokens["access_token"]).json() == {"active": False}


def test_a_public_app_may_revoke_its_own_tokens_but_not_introspect(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], public_app: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, public_app, director)
    refused = introspect(client, public_app, tokens["access_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert revoke(client, public_app, tokens["refresh_token"]).status_code == 200
    assert userinfo(client, tokens) == 401


def test_another_app_cannot_revoke_or_read_a_token_not_its_own(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    other_app: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    for token in (tokens["refresh_token"], tokens["access_token"]):
        refused = revoke(client, other_app, token)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        assert introspect(client, other_app, token).json() == {"active": False}
    # No effect: the owner's tokens still work.
    assert userinfo(client, tokens) == 200
    assert introspect(client, confidential_app, tokens["access_token"]).json()["active"] is True
    with db_factory() as db:
        assert db.scalars(select(OAuthGrant)).one().revoked_at is None
        refusals = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.revocation.refused")).all()
    assert [event.details["client_id"] for event in refusals] == ["food", "food"]


def test_a_wrong_secret_is_refused_with_a_challenge(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    for path in ("/oidc/revoke", "/oidc/introspect"):
        refused = client.post(path, data={"token": tokens["refresh_token"]}, auth=("kontingent", "wrong"))
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic realm=")
        # A confidential app cannot pass for a public one by naming itself without its secret...
        unauthenticated = client.post(path, data={"token": tokens["refresh_token"], "client_id": "kontingent"})
        assert unauthenticated.status_code == 401
        # ...nor authenticate another way than it registered (client_secret_basic, not the form).
        other_method = client.post(path, data={"token": tokens["refresh_token"], "client_id": "kontingent",
                                               "client_secret": confidential_app.client_secret or ""})
        assert other_method.status_code == 401
    assert userinfo(client, tokens) == 200


def test_a_resource_server_introspects_any_apps_token(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    resource_server: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    body = introspect(client, resource_server, tokens["access_token"]).json()
    assert body["active"] is True and body["client_id"] == "kontingent"
    # It may read them, not revoke them.
    assert revoke(client, resource_server, tokens["access_token"]).status_code == 400
    assert userinfo(client, tokens) == 200


def test_tokens_of_an_ended_session_are_inactive(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with db_factory() as db, db.begin():
        session = db.scalars(select(SignInSession)).one()
        end_signin_session(db, session.id)
    assert introspect(client, confidential_app, tokens["access_token"]).json() == {"active": False}
    assert introspect(client, confidential_app, tokens["refresh_token"]).json() == {"active": False}
    with db_factory() as db:
        audited = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.token.introspected")).all()
    assert [event.details["active"] for event in audited] == [False, False]
