"""What one OpenID Provider request works with: its database session, settings, keys, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.op.claims import Grantee
from bridge.op.keys import KeyStore
from bridge.services.audit import AuditContext
from bridge.services.oauth_tokens import granted_role, staff_by_subject
from bridge.services.signin_sessions import (
    SessionTimeouts,
    active_roles,
    find_signin_by_sid,
    load_active_signin,
)
from bridge.storage.models import SignInSession
from bridge.storage.types import utcnow


@dataclass
class ProviderContext:
    db: Session
    settings: Settings
    keys: KeyStore
    audit: AuditContext
    now: datetime = field(default_factory=utcnow)

    @property
    def issuer(self) -> str:
        return self.settings.public_url.rstrip("/")

    @property
    def timeouts(self) -> SessionTimeouts:
        return SessionTimeouts.of(self.settings)

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/oidc/userinfo"

    def load_grantee(
        self, signin_session_id: str, staff_id: int, role_assignment_id: int | None, auth_time: datetime | None = None
    ) -> Grantee | None:
        """The person behind a grant, if the sign-in session it came from is still alive.

        Ending the session (logout) or resetting the person's credential (a new session
        generation) therefore ends every app's access at its next refresh or userinfo call.
        """
        active = load_active_signin(self.db, signin_session_id, timeouts=self.timeouts, now=self.now)
        if active is None or active.staff.id != staff_id:
            return None
        return Grantee(
            staff=active.staff,
            session=active.session,
            role=granted_role(self.db, staff_id, role_assignment_id, self.now),
            auth_time=auth_time or active.session.auth_time,
            active_roles=active_roles(self.db, staff_id, self.now),
        )

    def session_of_sid(self, subject: str, sid: str) -> SignInSession | None:
        """The sign-in session a token's `sid` names, if it is this person's (an indexed lookup)."""
        session = find_signin_by_sid(self.db, sid)
        if session is None:
            return None
        staff = staff_by_subject(self.db, subject)
        return session if staff is not None and staff.id == session.staff_id else None
