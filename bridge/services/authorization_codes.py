"""Authorization codes issued to relying apps: stored as hashes, redeemed once.

A code is single-use: it is redeemed by one conditional UPDATE … RETURNING that claims it only if
it is unused, unexpired, and what the token request presents matches it (client, redirect_uri,
PKCE challenge), so two concurrent redemptions cannot both win and a refused one does not spend
it. When that claims nothing, the code is read to tell why; presenting a used code again revokes
the family the code started (see oauth_tokens.py): the grant and every refresh token issued from it.

Codes are written and read at every sign-in: with Core statements built once (no unit of work,
no identity map, the SQL compiled once), their rows read back as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bridge.services.oauth_tokens import family_of_code, revoke_family, token_hash
from bridge.storage.models import AuthorizationCode
from bridge.storage.types import utcnow

CODE_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class CodeGrant:
    """What the person granted at the authorization endpoint, frozen into the code."""

    client_id: str
    staff_id: int
    signin_session_id: str
    role_assignment_id: int | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime


def store_authorization_code(db: Session, code: str, grant: CodeGrant, now: datetime | None = None) -> None:
    now = now or utcnow()
    db.connection().execute(
        _INSERT,
        {
            "code_hash": token_hash(code),
            "client_id": grant.client_id,
            "staff_id": grant.staff_id,
            "signin_session_id": grant.signin_session_id,
            "role_assignment_id": grant.role_assignment_id,
            "redirect_uri": grant.redirect_uri,
            "scope": grant.scope,
            "nonce": grant.nonce,
            "code_challenge": grant.code_challenge,
            "code_challenge_method": grant.code_challenge_method,
            "auth_time": grant.auth_time,
            "created_at": now,
            "expires_at": now + CODE_TTL,
            "used_at": None,
        },
    )


@dataclass(frozen=True)
class IssuedCode:
    """A stored authorization code as it is read back (its hash; the code itself is never kept)."""

    id: int
    code_hash: str
    client_id: str
    staff_id: int
    signin_session_id: str
    role_assignment_id: int | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: datetime
    expires_at: datetime
    used_at: datetime | None


_INSERT = insert(AuthorizationCode)
_CODE_COLUMNS = tuple(getattr(AuthorizationCode, name) for name in IssuedCode.__dataclass_fields__)
_BY_HASH = select(*_CODE_COLUMNS).where(AuthorizationCode.code_hash == bindparam("code_hash"))
# Every condition of a successful redemption in the claim itself: nothing is read first, and a
# request that matches the code in all but one respect leaves it unspent.
_REDEEM = (
    update(AuthorizationCode)
    .where(
        AuthorizationCode.code_hash == bindparam("presented_hash"),
        AuthorizationCode.used_at.is_(None),
        AuthorizationCode.client_id == bindparam("presented_client_id"),
        AuthorizationCode.expires_at > bindparam("now"),
        AuthorizationCode.redirect_uri == bindparam("presented_redirect_uri"),
        AuthorizationCode.code_challenge_method == "S256",
        AuthorizationCode.code_challenge == bindparam("presented_challenge"),
    )
    .values(used_at=bindparam("used_at"))
    .returning(*_CODE_COLUMNS)
)


class CodeState(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"
    WRONG_CLIENT = "wrong_client"
    EXPIRED = "expired"
    REUSED = "reused"


@dataclass(frozen=True)
class CodeLookup:
    state: CodeState
    code: IssuedCode | None = None
    revoked_tokens: int = 0


@dataclass(frozen=True)
class Redemption:
    """What a token request presents for a code, besides the code itself."""

    client_id: str
    redirect_uri: str
    # BASE64URL(SHA256(code_verifier)): PKCE S256, the only method codes are issued with.
    code_challenge: str


def redeem_authorization_code(
    db: Session, code: str, presented: Redemption, now: datetime | None = None
) -> IssuedCode | None:
    """Claim the code if it is unused, unexpired, and `presented` matches it: one statement.

    None when nothing was claimed: the code is unknown, another client's, used, expired, or the
    redirect_uri or verifier is wrong (`look_up_authorization_code` tells which), or a concurrent
    redemption claimed it first.
    """
    now = now or utcnow()
    if "\x00" in presented.redirect_uri:
        # No code holds one (no registered redirect URI does), and PostgreSQL refuses a NUL byte
        # in a query: a 500 instead of the refusal the look-up then gives.
        return None
    claimed = db.connection().execute(
        _REDEEM,
        {
            "presented_hash": token_hash(code),
            "presented_client_id": presented.client_id,
            "presented_redirect_uri": presented.redirect_uri,
            "presented_challenge": presented.code_challenge,
            "now": now,
            "used_at": now,
        },
    ).first()
    return IssuedCode(**claimed._mapping) if claimed is not None else None


def look_up_authorization_code(
    db: Session, code: str, client_id: str, now: datetime | None = None
) -> CodeLookup:
    """Why a code was not redeemed (or, VALID, that nothing about it is wrong but what the request
    presents); a reused code revokes every token issued from it."""
    now = now or utcnow()
    stored = db.connection().execute(_BY_HASH, {"code_hash": token_hash(code)}).first()
    if stored is None:
        return CodeLookup(CodeState.UNKNOWN)
    record = IssuedCode(**stored._mapping)
    if record.client_id != client_id:
        return CodeLookup(CodeState.WRONG_CLIENT, record)
    if record.used_at is not None:
        revoked = revoke_family(db, family_of_code(record.code_hash), now)
        return CodeLookup(CodeState.REUSED, record, revoked)
    if record.expires_at <= now:
        return CodeLookup(CodeState.EXPIRED, record)
    return CodeLookup(CodeState.VALID, record)
