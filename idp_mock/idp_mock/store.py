"""What one provider remembers between requests: parked authorizations, codes, tokens, sessions."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field


def new_handle(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass
class PendingAuthorization:
    """An authorization request that passed validation and waits for login (and consent)."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str
    nonce: str | None = None
    scope_org: str = ""
    access_type: str = "online"
    code_challenge: str | None = None
    # Filled in at login: who, when, and the public id of their sign-in session.
    person_oid: str | None = None
    auth_time: int = 0
    sid: str = ""
    created_at: float = field(default_factory=time.time)


@dataclass
class IssuedCode:
    client_id: str
    redirect_uri: str
    scope: str
    person_oid: str
    sid: str
    auth_time: int
    expires_at: float
    nonce: str | None = None
    scope_org: str = ""
    code_challenge: str | None = None
    used: bool = False
    # Tokens issued for this code; a replayed code revokes them (RFC 6749, 4.1.2).
    access_tokens: list[str] = field(default_factory=list)


@dataclass
class IssuedToken:
    client_id: str
    scope: str
    person_oid: str
    sid: str
    auth_time: int
    expires_at: float
    nonce: str | None = None
    scope_org: str = ""


@dataclass
class SignInSession:
    """The provider's own single sign-on session; the cookie holds its secret handle, tokens its ``sid``."""

    person_oid: str
    auth_time: int
    sid: str = field(default_factory=lambda: str(uuid.uuid4()))


class ProviderStore:
    PENDING_LIFETIME = 1800.0

    def __init__(self) -> None:
        self.pending: dict[str, PendingAuthorization] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.access_tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, IssuedToken] = {}
        self.sessions: dict[str, SignInSession] = {}
        # (person oid, client_id) -> scopes the person already agreed to give that client.
        self.consents: dict[tuple[str, str], set[str]] = {}

    def park(self, request: PendingAuthorization) -> str:
        handle = new_handle()
        self.pending[handle] = request
        return handle

    def parked(self, handle: str) -> PendingAuthorization | None:
        request = self.pending.get(handle)
        if request is None or time.time() - request.created_at > self.PENDING_LIFETIME:
            return None
        return request

    def unpark(self, handle: str) -> None:
        self.pending.pop(handle, None)

    def start_session(self, person_oid: str) -> tuple[str, SignInSession]:
        session_id = new_handle()
        session = SignInSession(person_oid, int(time.time()))
        self.sessions[session_id] = session
        return session_id, session

    def live_access_token(self, token: str) -> IssuedToken | None:
        issued = self.access_tokens.get(token)
        if issued is None or issued.expires_at < time.time():
            return None
        return issued

    def revoke_for_code(self, code: IssuedCode) -> None:
        for token in code.access_tokens:
            self.access_tokens.pop(token, None)
