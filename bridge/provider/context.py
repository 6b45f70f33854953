"""What one OpenID Provider request works with: its database session, settings, keys, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.provider.claims import Grantee, session_sid
from bridge.provider.keys import KeyStore
from bridge.services.audit import AuditContext
from bridge.services.oauth_tokens import granted_role, live_sessions_of, staff_by_subject
from bridge.services.signin_sessions import active_roles, load_active_signin
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
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/oidc/userinfo"

    def load_grantee(
        self, signin_session_id: str, staff_id: int, role_assignment_id: int | None, auth_time: datetime
    ) -> Grantee | None:
        """The person behind a grant, if the sign-in session it came from is still alive.

        Ending the session (logout) or resetting the person's credential (a new session
        generation) therefore ends every app's access at its next refresh or userinfo call.
        """
        active = load_active_signin(self.db, signin_session_id, self.now)
        if active is None or active.staff.id != staff_id:
            return None
        return Grantee(
            staff=active.staff,
            session=active.session,
            role=granted_role(self.db, staff_id, role_assignment_id, self.now),
            auth_time=auth_time,
            active_roles=active_roles(self.db, staff_id, self.now),
        )

    def session_of_sid(self, subject: str, sid: str) -> SignInSession | None:
        """The live sign-in session a token's `sid` names: one of the person's few live sessions."""
        staff = staff_by_subject(self.db, subject)
        if staff is None:
            return None
        for session in live_sessions_of(self.db, staff.id, self.now):
            if session_sid(self.settings.secret_key, session.id) == sid:
                return session
        return None
