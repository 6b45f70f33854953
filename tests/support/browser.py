"""A signed-in browser for route tests whose subject is not the sign-in flow itself."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.web.signin_cookie import signin_cookie_name

# For tests that start sessions without a browser (no cookie is ever read for them).
TEST_SESSION_KEYS = SessionKeys(b"test-session-keys")


def sign_in_browser(
    client: TestClient,
    settings: Settings,
    db_factory: sessionmaker[Session],
    staff_id: int,
    role: RoleAssignment | None = None,
    *,
    provider: str = "esia",
) -> str:
    """Start a sign-in session as if the person had come back from `provider`; returns its id."""
    with db_factory() as db, db.begin():
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        started = start_signin_session(
            db,
            staff,
            keys=SessionKeys.of(settings.secret_key),
            provider=provider,
            amr=["fed", "pwd"],
            acr=f"urn:edu-bridge:idp:{provider}",
            lifetime=timedelta(hours=1),
            remember=False,
        )
        if role is not None:
            started.record.role_assignment_id = role.id
        session_id = started.record.id
    serializer = URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session")
    client.cookies.set(signin_cookie_name(settings), serializer.dumps(started.token))
    return session_id
