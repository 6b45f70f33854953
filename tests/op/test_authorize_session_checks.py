"""The authorization endpoint judges a browser's sign-in session itself, before any code.

It reads the session, the person and their roles as plain values in one statement
(`grantees.load_authorizing_signin`): each rule of `load_active_signin` holds there as well, so a
browser whose session has ended, expired or idled, whose person is blocked or has had a credential
reset, goes to sign in again, and one whose chosen role has ended (or is not the person's) goes to
the role page — never to the app with a code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.enums import StaffStatus
from bridge.storage.models import RoleAssignment, SignInSession, StaffMember
from bridge.storage.types import utcnow
from tests.op.conftest import App, Person, authorization_request, get_code
from tests.support.browser import sign_in_browser

Change = Callable[[Session, str, Person, RoleAssignment], None]


def _ended(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    db.execute(update(SignInSession).where(SignInSession.id == session_id).values(ended_at=utcnow()))


def _expired(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    past = utcnow() - timedelta(seconds=1)
    db.execute(update(SignInSession).where(SignInSession.id == session_id).values(expires_at=past))


def _idle(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    # Past the idle timeout (an hour), well before the absolute end (an hour from the sign-in).
    seen = utcnow() - timedelta(minutes=61)
    db.execute(update(SignInSession).where(SignInSession.id == session_id).values(last_seen_at=seen))


def _blocked(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    db.execute(update(StaffMember).where(StaffMember.id == person.staff_id).values(status=StaffStatus.BLOCKED))


def _credential_reset(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    db.execute(
        update(StaffMember).where(StaffMember.id == person.staff_id)
        .values(session_generation=StaffMember.session_generation + 1)
    )


def _role_ended(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    yesterday = utcnow().date() - timedelta(days=1)
    db.execute(
        update(RoleAssignment).where(RoleAssignment.id == person.role.id)
        .values(start_date=yesterday - timedelta(days=30), end_date=yesterday)
    )


def _role_not_started(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    db.execute(
        update(RoleAssignment).where(RoleAssignment.id == person.role.id)
        .values(start_date=utcnow().date() + timedelta(days=1))
    )


def _someone_elses_role(db: Session, session_id: str, person: Person, other: RoleAssignment) -> None:
    db.execute(update(SignInSession).where(SignInSession.id == session_id).values(role_assignment_id=other.id))


@pytest.mark.parametrize(
    ("change", "page"),
    [
        (_ended, "/login"),
        (_expired, "/login"),
        (_idle, "/login"),
        (_blocked, "/login"),
        (_credential_reset, "/login"),
        (_role_ended, "/login/role"),
        (_role_not_started, "/login/role"),
        (_someone_elses_role, "/login/role"),
    ],
)
def test_a_session_no_longer_good_gets_a_page_not_a_code(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, deputy_and_director: tuple[Person, RoleAssignment], change: Change, page: str,
) -> None:
    _, other = deputy_and_director
    session_id = sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    assert get_code(client, request)

    with db_factory() as db, db.begin():
        change(db, session_id, director, other)
    response = client.get(authorization_request(confidential_app).url, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert urlsplit(response.headers["location"]).path == page, response.headers["location"]

