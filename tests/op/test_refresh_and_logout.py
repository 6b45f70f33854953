from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.signin_sessions import SessionTimeouts, load_active_signin
from bridge.storage.models import AuditEvent, RefreshToken, RoleAssignment, StaffMember
from bridge.web.signin_cookie import signin_cookie_name
from tests.op.conftest import LOGOUT_URI, App, Person, query_of, refresh, signed_in_tokens


def _userinfo(client: TestClient, tokens: dict[str, str]) -> int:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code


def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    first = refresh(client, confidential_app, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["id_token"] and _userinfo(client, rotated) == 200

    # The old token again: someone has a copy. Refused, and the whole family is revoked...
    reused = refresh(client, confidential_app, tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # ...so the legitimate holder's current token stops working too.
    assert refresh(client, confidential_app, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    with db_factory() as db:
        assert all(token.revoked_at is not None for token in db.scalars(select(RefreshToken)))
        assert db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.refresh.reused")).first()


def test_refresh_keeps_the_frozen_role_and_is_audited(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert refresh(client, confidential_app, tokens["refresh_token"]).status_code == 200
    with db_factory() as db:
        issued = db.scalars(
            select(AuditEvent).where(AuditEvent.event.in_(["oidc.token.issued", "oidc.token.refreshed"]))
            .order_by(AuditEvent.id)
        ).all()
        tokens_rows = db.scalars(select(RefreshToken)).all()
    assert [(event.event, event.details["grant_type"]) for event in issued] == [
        ("oidc.token.issued", "authorization_code"), ("oidc.token.refreshed", "refresh_token"),
    ]
    assert all(event.subject_staff_id == director.staff_id for event in issued)
    assert {row.role_assignment_id for row in tokens_rows} == {director.role.id}
    assert len({row.family for row in tokens_rows}) == 1


def test_refresh_token_belongs_to_its_client(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert refresh(client, public_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_logout_ends_the_session_tokens_and_redirects_exactly(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    params = {
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_URI, "state": "bye-42",
        "client_id": "kontingent",
    }
    response = client.get("/oidc/logout?" + urlencode(params), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(LOGOUT_URI + "?")
    assert query_of(response.headers["location"])["state"] == "bye-42"
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(signin_cookie_name(settings) + "=") and "Max-Age=0" in cleared

    assert _userinfo(client, tokens) == 401
    assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    with db_factory() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.logout")).all()
        assert len(events) == 1 and events[0].subject_staff_id == director.staff_id
        assert db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.userinfo.refused")).first()


def test_logout_to_an_unregistered_address_shows_a_page_instead(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_URI + "/", "state": "s"}
    response = client.get("/oidc/logout?" + urlencode(params), follow_redirects=False)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "Вы вышли" in response.text
    assert _userinfo(client, tokens) == 401


def test_logout_with_a_forged_hint_does_nothing(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    header, payload, _ = tokens["id_token"].split(".")
    params = {"id_token_hint": f"{header}.{payload}.AAAA", "post_logout_redirect_uri": LOGOUT_URI}
    response = client.get("/oidc/logout?" + urlencode(params), follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers
    assert "Выход не выполнен" in response.text
    assert _userinfo(client, tokens) == 200


def test_logout_without_a_hint_asks_first(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    page = client.get("/oidc/logout?client_id=kontingent", follow_redirects=False)
    assert page.status_code == 200 and "Выйти из единого входа?" in page.text
    assert _userinfo(client, tokens) == 200  # nothing happened yet

    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    forged = client.post("/oidc/logout", data={"client_id": "kontingent", "csrf_token": "forged"})
    assert forged.status_code == 403 and "Форма устарела" in forged.text
    assert _userinfo(client, tokens) == 200
    done = client.post("/oidc/logout", data={"client_id": "kontingent", "csrf_token": csrf})
    assert done.status_code == 200 and "Вы вышли" in done.text
    assert _userinfo(client, tokens) == 401


def test_credential_reset_ends_app_access(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    assert _userinfo(client, tokens) == 200
    # What an administrator's password reset does: a new session generation.
    with db_factory() as db, db.begin():
        db.execute(
            update(StaffMember).where(StaffMember.id == director.staff_id)
            .values(session_generation=StaffMember.session_generation + 1)
        )
    assert _userinfo(client, tokens) == 401
    response = refresh(client, confidential_app, tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    with db_factory() as db:
        assert load_active_signin(
            db, db.scalars(select(RefreshToken.signin_session_id)).first() or "", timeouts=SessionTimeouts.of(settings)
        ) is None


def test_a_hint_for_someone_else_does_not_sign_this_browser_out_unasked(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, deputy_and_director: tuple[Person, RoleAssignment],
) -> None:
    """A link carrying the attacker's own valid id_token must not end the victim's session."""
    other, _ = deputy_and_director
    attackers_hint = signed_in_tokens(client, settings, db_factory, confidential_app, other)["id_token"]
    victims = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    params = {"id_token_hint": attackers_hint, "post_logout_redirect_uri": LOGOUT_URI}
    page = client.get("/oidc/logout?" + urlencode(params), follow_redirects=False)
    assert page.status_code == 200 and "Выйти из единого входа?" in page.text
    assert "location" not in page.headers
    assert _userinfo(client, victims) == 200


def test_a_role_that_ends_leaves_the_claims_at_once(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    deputy_and_director: tuple[Person, RoleAssignment],
) -> None:
    """The frozen role and the person's other roles are judged at every call: one that has ended
    since the code was issued is no longer told (the session itself lives on)."""
    person, other = deputy_and_director
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, person)

    def claims() -> dict[str, Any]:
        answer = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def end(role_id: int) -> None:
        today = date.today()
        with db_factory() as db, db.begin():
            db.execute(
                update(RoleAssignment).where(RoleAssignment.id == role_id)
                .values(start_date=today - timedelta(days=30), end_date=today - timedelta(days=2))
            )

    before = claims()
    assert before["role"]["code"] == person.role.role and before["organization"]["id"] == person.organization_id
    assert sorted(role["organization"]["id"] for role in before["roles"]) == sorted(
        [person.organization_id, other.organization_id]
    )
    end(other.id)
    assert [role["organization"]["id"] for role in claims()["roles"]] == [person.organization_id]
    end(person.role.id)
    after = claims()
    assert "role" not in after and "organization" not in after and after["roles"] == []
    assert after["sub"] == person.subject
