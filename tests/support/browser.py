"""A signed-in browser for route tests whose subject is not the sign-in flow itself."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.signin_sessions import start_signin_session
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.web.signin_cookie import signin_cookie_name


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
        session = start_signin_session(
            db,
            staff,
            provider=provider,
            amr=["fed", "pwd"],
            acr=f"urn:edu-bridge:idp:{provider}",
            lifetime=timedelta(hours=1),
            remember=False,
        )
        if role is not None:
            session.role_assignment_id = role.id
        session_id = session.id
    serializer = URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session")
    client.cookies.set(signin_cookie_name(settings), serializer.dumps(session_id))
    return session_id
