"""The OpenID Provider's token-signing keys: technical support rotates them on its page or at the CLI.

A rotated key stops signing and stays published in JWKS for a while, so tokens it signed still verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_support
from bridge.application.unit_of_work import unit_of_work
from bridge.services import audit, signing_keys
from bridge.services.key_encryption import Keyring
from bridge.services.signing_keys import KeyState, Rewrapped, key_state
from bridge.storage.models import SigningKey


@dataclass(frozen=True)
class SigningKeyView:
    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    published_until: datetime | None
    # The key-encryption key it is wrapped under; None while a key from before 0011 is still plaintext.
    kek_id: str | None


def _support_only(db: Session, principal: Principal) -> None:
    require_support(db, principal, "Ключи подписи ведёт техническая поддержка.")


def _key(key: SigningKey) -> SigningKeyView:
    return SigningKeyView(
        kid=key.kid, alg=key.alg, state=key_state(key), created_at=key.created_at, retired_at=key.retired_at,
        published_until=key.published_until, kek_id=key.kek_id if key.plaintext_jwk is None else None,
    )


def rotate_signing_keys(
    database: sessionmaker[Session], principal: Principal, algorithms: tuple[str, ...], *, keyring: Keyring,
    keep_published: timedelta,
) -> tuple[SigningKeyView, ...]:
    """A new signing key per algorithm; the old ones stay in JWKS for `keep_published`."""
    with unit_of_work(database, audit_context_of(principal), "oidc.keys.rotate") as db:
        _support_only(db, principal)
        keys = [
            signing_keys.rotate_signing_key(db, alg, keyring=keyring, keep_published=keep_published)
            for alg in algorithms
        ]
        for key in keys:
            audit.record(
                db, audit_context_of(principal), "oidc.keys.rotated", "success", kid=key.kid, alg=key.alg,
                keep_published_days=keep_published.days,
            )
        return tuple(_key(key) for key in keys)


def list_signing_keys(database: sessionmaker[Session], principal: Principal) -> tuple[SigningKeyView, ...]:
    with database() as db:
        _support_only(db, principal)
        return tuple(_key(key) for key in signing_keys.all_signing_keys(db))


def rewrap_signing_keys(
    database: sessionmaker[Session], principal: Principal, keyring: Keyring, to_kek_id: str
) -> Rewrapped:
    """Every signing key re-encrypted under one configured KEK, in one transaction."""
    with unit_of_work(database, audit_context_of(principal), "oidc.keys.rewrap") as db:
        _support_only(db, principal)
        result = signing_keys.rewrap_signing_keys(db, keyring, to_kek_id)
        audit.record(
            db, audit_context_of(principal), "oidc.keys.rewrapped", "success", kek_id=result.kek_id,
            rewrapped=len(result.rewrapped), unchanged=len(result.unchanged),
        )
        return result
