"""What one OpenID Provider request works with: its database session, settings, keys, audit.

The Authlib server is one object per app; its storage hooks (query_client, save_token, the
grants' hooks) are given no request of ours, so they reach the request at hand through
`current_context()`, which `serving` sets for the length of one provider call (in its thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.op.keys import KeyStore
from bridge.op.models import ClientModel
from bridge.op.paths import ProviderPaths
from bridge.services import grantees
from bridge.services.audit import AuditContext
from bridge.services.grantees import Grantee
from bridge.services.signin_sessions import SessionTimeouts
from bridge.storage.types import utcnow

if TYPE_CHECKING:
    from bridge.op.server import BridgeAuthorizationServer


@dataclass
class ProviderContext:
    db: Session
    settings: Settings
    keys: KeyStore
    audit: AuditContext
    paths: ProviderPaths
    # The app's one Authlib server (it reaches this context through `current_context`).
    server: BridgeAuthorizationServer
    now: datetime = field(default_factory=utcnow)
    # Clients read in this request, by client_id: Authlib asks again at each step of one request.
    clients: dict[str, ClientModel | None] = field(default_factory=dict)
    # RP-initiated logout: the sign-in session of the browser at hand, if any.
    browser_session_id: str | None = None

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
    ) -> Grantee | None:
        """The person behind a grant, if the sign-in session it came from is still alive.

        Ending the session (logout) or resetting the person's credential (a new session
        generation) therefore ends every app's access at its next refresh or userinfo call.
        """
        return grantees.load_grantee(
            self.db, signin_session_id, staff_id, role_assignment_id, auth_time, timeouts=self.timeouts, now=self.now
        )

    def session_of_sid(self, subject: str, sid: str) -> str | None:
        """The id of the sign-in session a token's `sid` names, if it is this person's."""
        return grantees.session_of_sid(self.db, subject, sid)


_current: ContextVar[ProviderContext] = ContextVar("bridge_provider_context")


def current_context() -> ProviderContext:
    """The context of the provider call at hand; a LookupError outside of `serving`."""
    return _current.get()


@contextmanager
def serving(context: ProviderContext) -> Iterator[ProviderContext]:
    """Make `context` the current one for the length of one provider call."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
