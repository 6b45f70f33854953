"""A grant is revoked as a whole: reusing its code or a rotated refresh token recalls the access
tokens already issued from it, at userinfo, at once. And a token's session is found by key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.actors import cli_support_actor
from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_recovery import reset_password
from bridge.services.signing_keys import private_jwk
from bridge.storage.models import AuditEvent, OAuthGrant, SigningKey, SignInSession
from bridge.storage.types import utcnow
from tests.op.conftest import (
    App,
    Person,
    authorization_request,
    complete_profile,
    exchange,
    get_code,
    refresh,
    signed_in_tokens,
)
from tests.support.browser import sign_in_browser
from tests.support.factories import give_role, make_organization, make_staff
from tests.support.keys import keyring_of


def _userinfo(client: TestClient, access_token: str) -> Any:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def _refusal_reasons(db_factory: sessionmaker[Session]) -> list[str]:
    with db_factory() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.event == "oidc.userinfo.refused").order_by(AuditEvent.id)
        ).all()
        return [event.details["reason"] for event in events]


def test_a_reused_code_recalls_the_access_token_already_issued(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    first = exchange(client, confidential_app, code, request.verifier).json()
    assert _userinfo(client, first["access_token"]).status_code == 200

    # Someone replays the code (it leaked from a log or a referrer): refused...
    assert exchange(client, confidential_app, code, request.verifier).json()["error"] == "invalid_grant"
    # ...and what the first redemption got is recalled: the access token too, not only the refresh token.
    recalled = _userinfo(client, first["access_token"])
    assert recalled.status_code == 401 and recalled.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in recalled.headers["www-authenticate"]
    assert refresh(client, confidential_app, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert _refusal_reasons(db_factory) == ["grant_revoked"]


def test_a_reused_refresh_token_recalls_every_access_token_of_the_grant(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    rotated = refresh(client, confidential_app, tokens["refresh_token"]).json()
    assert _userinfo(client, tokens["access_token"]).status_code == 200
    assert _userinfo(client, rotated["access_token"]).status_code == 200

    assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _userinfo(client, rotated["access_token"]).status_code == 401
    assert refresh(client, confidential_app, rotated["refresh_token"]).json()["error"] == "invalid_grant"


def test_only_the_reused_grant_is_recalled(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    """The same person and sign-in session, two apps: theft at one does not sign the other out."""
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    stolen = get_code(client, request)
    tokens = exchange(client, confidential_app, stolen, request.verifier).json()
    other_request = authorization_request(public_app)
    other = exchange(client, public_app, get_code(client, other_request), other_request.verifier).json()

    exchange(client, confidential_app, stolen, request.verifier)
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _userinfo(client, other["access_token"]).status_code == 200
    assert refresh(client, public_app, other["refresh_token"]).status_code == 200
    with db_factory() as db:
        grants = {grant.client_id: grant.revoked_at for grant in db.scalars(select(OAuthGrant))}
    assert grants["kontingent"] is not None and grants["ekis-mobile"] is None


def test_removing_an_app_recalls_its_access_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, monkeypatch: Any, database_url: str,
) -> None:
    from bridge.cli.main import main

    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    monkeypatch.setenv("BRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", str(settings.secret_key))
    assert main(["client", "remove", "kontingent"]) == 0
    assert _userinfo(client, tokens["access_token"]).status_code == 401


def test_userinfo_finds_the_session_by_key_whatever_the_number_of_sessions(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], engine: Engine,
    confidential_app: App, director: Person,
) -> None:
    """The same statements, and none listing a person's sessions, with 1 or 120 live sessions."""
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)

    def statements_of_one_call() -> list[str]:
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert _userinfo(client, tokens["access_token"]).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return seen

    few = statements_of_one_call()
    for _ in range(120):
        sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    many = statements_of_one_call()
    assert len(many) == len(few)
    assert not [s for s in many if "FROM signin_sessions" in s and "signin_sessions.staff_id =" in s]
    assert any("FROM oauth_grants" in s and "oauth_grants.id =" in s for s in many)


def test_logout_from_another_browser_finds_the_hinted_session_by_sid(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    client.cookies.clear()  # another browser: no sign-in cookie, only the app's hint
    response = client.get("/oidc/logout", params={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200 and "Вы вышли" in response.text
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refusal_reasons(db_factory)[-1] == "grant_revoked"


def test_a_reset_still_ends_app_access_through_the_session(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
) -> None:
    """The administrator's real reset (not a column edit) ends access, grant or no grant."""
    with db_factory() as db, db.begin():
        staff = make_staff(db, surname="Смирнова", name="Елена", patronymic="Викторовна", login="smirnova")
        department = make_organization(db, name="Управление образования", kind=OrganizationKind.EDUCATION_DEPARTMENT)
        role = give_role(db, staff, department, Role.EDUCATION_DEPARTMENT)
        complete_profile(staff, role)
        person = Person(staff.id, staff.subject, staff.login, role, department.id)
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, person)
    assert _userinfo(client, tokens["access_token"]).status_code == 200
    with db_factory() as db, db.begin():
        reset_password(db, cli_support_actor(), "smirnova", credential_ttl=settings.credential_ttl)
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refusal_reasons(db_factory)[-1] in ("grant_revoked", "signin_session_ended")
    assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_token_must_agree_with_its_grant(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person, deputy_and_director: tuple[Person, Any],
) -> None:
    """Defence in depth behind the signature: were a token ever minted with the wrong grant,
    session or person (a bug, a key in the wrong hands), userinfo would not follow it."""
    mine = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    other, _ = deputy_and_director
    theirs = signed_in_tokens(client, settings, db_factory, public_app, other)
    with db_factory() as db:
        record = db.scalars(select(SigningKey).where(SigningKey.alg == "ES256", SigningKey.retired_at.is_(None))).one()
        key = ECKey.import_key(private_jwk(record, keyring_of(settings)))
    keys = KeySet.import_key_set(client.get("/oidc/jwks").json())
    claims = dict(jwt.decode(mine["access_token"], keys, algorithms=["ES256"]).claims)
    their_claims = jwt.decode(theirs["access_token"], keys, algorithms=["ES256"]).claims

    def forged(**changes: Any) -> str:
        return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, {**claims, **changes}, key,
                          algorithms=["ES256"])

    assert _userinfo(client, forged()).status_code == 200  # the forgery itself is sound
    for changes in ({"grant_id": their_claims["grant_id"]}, {"sid": their_claims["sid"]},
                    {"sub": their_claims["sub"]}, {"grant_id": None},
                    # Their grant, session and person, but this app: the grant is another app's.
                    {name: their_claims[name] for name in ("grant_id", "sid", "sub", "rid")}):
        assert _userinfo(client, forged(**changes)).status_code == 401, changes


def test_a_token_lives_with_its_own_sign_in_session_not_with_the_persons_newest(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """The grantee is read as columns by the grant's session id (issue 12): a token whose session
    went idle is refused at userinfo and at refresh although the same person has live sessions,
    begun before it and after it; a token of a live session still answers."""
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with db_factory() as db:
        grant = db.scalars(select(OAuthGrant)).one()
    live = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with db_factory() as db, db.begin():
        db.execute(
            update(SignInSession)
            .where(SignInSession.id == grant.signin_session_id)
            .values(last_seen_at=utcnow() - timedelta(days=2))
        )
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert _refusal_reasons(db_factory)[-1] == "signin_session_ended"
    assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert _userinfo(client, live["access_token"]).status_code == 200
    assert refresh(client, confidential_app, live["refresh_token"]).status_code == 200
