"""Grants and refresh tokens issued to relying apps (their codes: authorization_codes.py).

Codes and refresh tokens are random bearer values stored only as SHA-256 hashes. Redeeming a
code creates the grant, keyed by the family id derived from the code; refresh tokens rotate on
every use and keep that family, and every access token names the grant. Presenting a rotated
token or a used code revokes the whole family: its refresh tokens and the grant, so the access
tokens already issued from it are refused at userinfo too.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session

from bridge.storage.models import OAuthGrant, RefreshToken
from bridge.storage.types import utcnow

_FAMILY_NAMESPACE = uuid.UUID("6c1b3a52-5a43-4d7e-9a0e-0b1de2a7f0c1")


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_bearer_value() -> str:
    return secrets.token_urlsafe(32)


def family_of_code(code_hash: str) -> str:
    """The refresh-token family of a code: derivable from the code, so reuse can revoke it."""
    return str(uuid.uuid5(_FAMILY_NAMESPACE, code_hash))


# --- Grants ------------------------------------------------------------------------------------


_INSERT_GRANT = insert(OAuthGrant)
_INSERT_REFRESH_TOKEN = insert(RefreshToken)


def create_grant(
    db: Session, family: str, *, client_id: str, staff_id: int, signin_session_id: str, now: datetime | None = None
) -> None:
    """The grant of a just-redeemed code (only the one redemption that claimed the code gets here).

    A Core INSERT built once: written on every sign-in, never read back in the same request.
    """
    db.connection().execute(
        _INSERT_GRANT,
        {
            "id": family, "client_id": client_id, "staff_id": staff_id, "signin_session_id": signin_session_id,
            "created_at": now or utcnow(), "revoked_at": None,
        },
    )


def live_grant(db: Session, grant_id: str, client_id: str, *, lock: bool = False) -> OAuthGrant | None:
    """The grant an access token names, if it is the client's and not revoked (a key lookup).

    `lock=True` takes the grant's row lock first (PostgreSQL; SQLite serialises writers anyway).
    Every writer of a family takes the grant before its tokens: the refresh grant here, and
    `revoke_family` by updating the grant before the tokens. One order means no deadlock when
    several uses of one refresh token race (a loser's failed claim keeps the token's row lock).
    Userinfo reads the grant with its session and person instead (grantees.read_grant_and_grantee).
    """
    grant = db.get(OAuthGrant, grant_id, with_for_update=lock, populate_existing=lock)
    if grant is None or grant.revoked_at is not None or grant.client_id != client_id:
        return None
    return grant


# --- Refresh tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshGrant:
    family: str
    client_id: str
    staff_id: int
    signin_session_id: str
    role_assignment_id: int | None
    scope: str
    auth_time: datetime


def store_refresh_token(
    db: Session, token: str, grant: RefreshGrant, lifetime: timedelta, now: datetime | None = None
) -> None:
    now = now or utcnow()
    db.connection().execute(
        _INSERT_REFRESH_TOKEN,
        {
            "token_hash": token_hash(token),
            "family": grant.family,
            "client_id": grant.client_id,
            "staff_id": grant.staff_id,
            "signin_session_id": grant.signin_session_id,
            "role_assignment_id": grant.role_assignment_id,
            "scope": grant.scope,
            "auth_time": grant.auth_time,
            "created_at": now,
            "expires_at": now + lifetime,
            "rotated_at": None,
            "revoked_at": None,
        },
    )


@dataclass(frozen=True)
class IssuedRefreshToken:
    """A stored refresh token as it is read back (its hash; the token itself is never kept)."""

    id: int
    family: str
    client_id: str
    staff_id: int
    signin_session_id: str
    role_assignment_id: int | None
    scope: str
    auth_time: datetime
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: RefreshToken) -> IssuedRefreshToken:
        return cls(
            id=record.id, family=record.family, client_id=record.client_id, staff_id=record.staff_id,
            signin_session_id=record.signin_session_id, role_assignment_id=record.role_assignment_id,
            scope=record.scope, auth_time=record.auth_time, expires_at=record.expires_at,
            rotated_at=record.rotated_at, revoked_at=record.revoked_at,
        )


class RefreshState(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"
    WRONG_CLIENT = "wrong_client"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"


@dataclass(frozen=True)
class RefreshLookup:
    state: RefreshState
    token: IssuedRefreshToken | None = None
    revoked_tokens: int = 0


def look_up_refresh_token(
    db: Session, token: str, client_id: str, now: datetime | None = None
) -> RefreshLookup:
    """The token if usable; presenting an already rotated token revokes its whole family."""
    now = now or utcnow()
    stored = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(token)))
    if stored is None:
        return RefreshLookup(RefreshState.UNKNOWN)
    record = IssuedRefreshToken.of(stored)
    if record.client_id != client_id:
        return RefreshLookup(RefreshState.WRONG_CLIENT, record)
    if record.revoked_at is not None:
        return RefreshLookup(RefreshState.REVOKED, record)
    if record.rotated_at is not None:
        return RefreshLookup(RefreshState.REUSED, record, revoke_family(db, record.family, now))
    if record.expires_at <= now:
        return RefreshLookup(RefreshState.EXPIRED, record)
    return RefreshLookup(RefreshState.VALID, record)


def find_refresh_token(db: Session, token: str) -> IssuedRefreshToken | None:
    """A stored refresh token by value, whatever its state, with no side effect (introspection,
    revocation); the token endpoint uses `look_up_refresh_token`, which also catches reuse."""
    stored = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(token)))
    return IssuedRefreshToken.of(stored) if stored is not None else None


def claim_refresh_token(db: Session, record: IssuedRefreshToken, now: datetime | None = None) -> bool:
    """Mark the token rotated; False if it was rotated or revoked meanwhile (a race = reuse)."""
    result = db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == record.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(rotated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def revoke_family(db: Session, family: str, now: datetime | None = None) -> int:
    """Revoke a grant and its refresh tokens; returns how many refresh tokens were revoked.

    The grant first, then its tokens: the lock order every writer of a family keeps.
    """
    _revoke_grants(db, OAuthGrant.id == family, now)
    return _revoke(db, RefreshToken.family == family, now)


def revoke_session_tokens(db: Session, signin_session_id: str, now: datetime | None = None) -> int:
    _revoke_grants(db, OAuthGrant.signin_session_id == signin_session_id, now)
    return _revoke(db, RefreshToken.signin_session_id == signin_session_id, now)


def revoke_staff_tokens(db: Session, staff_id: int, now: datetime | None = None) -> int:
    """Every grant and refresh token of a person (a block, a deactivation, «Завершить сеансы»)."""
    _revoke_grants(db, OAuthGrant.staff_id == staff_id, now)
    return _revoke(db, RefreshToken.staff_id == staff_id, now)


def revoke_client_tokens(db: Session, client_id: str, now: datetime | None = None) -> int:
    _revoke_grants(db, OAuthGrant.client_id == client_id, now)
    return _revoke(db, RefreshToken.client_id == client_id, now)


def _revoke(db: Session, condition: ColumnElement[bool], now: datetime | None) -> int:
    result = db.execute(
        update(RefreshToken)
        .where(condition, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _revoke_grants(db: Session, condition: ColumnElement[bool], now: datetime | None) -> None:
    db.execute(
        update(OAuthGrant)
        .where(condition, OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
