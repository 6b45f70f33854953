"""What one OpenID Provider request works with: its database session, settings, keys, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.op.keys import KeyStore
from bridge.op.paths import ProviderPaths
from bridge.services import grantees
from bridge.services.audit import AuditContext
from bridge.services.grantees import Grantee
from bridge.services.signin_sessions import SessionTimeouts
from bridge.storage.types import utcnow


@dataclass
class ProviderContext:
    db: Session
    settings: Settings
    keys: KeyStore
    audit: AuditContext
    paths: ProviderPaths
    now: datetime = field(default_factory=utcnow)

    @property
    def issuer(self) -> str:
        return self.settings.public_url.rstrip("/")

    @property
    def timeouts(self) -> SessionTimeouts:
        return SessionTimeouts.of(self.settings)

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}{self.paths.userinfo}"

    def load_grantee(
        self,
        signin_session_id: str,
        staff_id: int,
        role_assignment_id: int | None,
        auth_time: datetime | None = None,
        *,
        with_roles: bool = True,
    ) -> Grantee | None:
        """The person behind a grant, if the sign-in session it came from is still alive.

        Ending the session (logout) or resetting the person's credential (a new session
        generation) therefore ends every app's access at its next refresh or userinfo call.
        """
        return grantees.load_grantee(
            self.db, signin_session_id, staff_id, role_assignment_id, auth_time, timeouts=self.timeouts, now=self.now,
            with_roles=with_roles,
        )

    def session_of_sid(self, subject: str, sid: str) -> str | None:
        """The id of the sign-in session a token's `sid` names, if it is this person's."""
        return grantees.session_of_sid(self.db, subject, sid)
