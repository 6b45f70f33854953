"""The bridge's own token-signing keys, kept in the database so every worker and restart signs alike.

One key is active per algorithm (ES256 and RS256 are both kept, so an app may ask for either);
a rotated key stops signing but stays published in JWKS until `published_until`, so tokens it
signed still verify at relying apps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.storage.models import SigningKey
from bridge.storage.types import utcnow

SUPPORTED_ALGORITHMS = ("ES256", "RS256")
# Long enough for every token signed by the old key to expire, and for apps to refresh JWKS.
DEFAULT_PUBLISH_AFTER_ROTATION = timedelta(days=7)


def generate_private_jwk(alg: str) -> dict[str, object]:
    if alg == "ES256":
        key: ECKey | RSAKey = ECKey.generate_key("P-256", auto_kid=True, private=True)
    elif alg == "RS256":
        key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    jwk: dict[str, object] = dict(key.as_dict(private=True))
    jwk.update(alg=alg, use="sig")
    return jwk


def active_signing_key(db: Session, alg: str, now: datetime | None = None) -> SigningKey:
    """The key that signs with `alg` now; generated on first need."""
    now = now or utcnow()
    key = db.scalar(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    if key is not None:
        return key
    return _create_key(db, alg, now, DEFAULT_PUBLISH_AFTER_ROTATION)


def rotate_signing_key(
    db: Session, alg: str, *, keep_published: timedelta = DEFAULT_PUBLISH_AFTER_ROTATION,
    now: datetime | None = None,
) -> SigningKey:
    """A new active key of `alg`; the previous one stops signing and stays published for `keep_published`."""
    return _create_key(db, alg, now or utcnow(), keep_published)


def published_signing_keys(db: Session, now: datetime | None = None) -> list[SigningKey]:
    now = now or utcnow()
    return list(
        db.scalars(
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.published_until > now))
            .order_by(SigningKey.created_at.desc())
        )
    )


def all_signing_keys(db: Session) -> list[SigningKey]:
    return list(db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())))


def _create_key(db: Session, alg: str, now: datetime, keep_published: timedelta) -> SigningKey:
    if alg not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    for old in db.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)):
        old.retired_at = now
        old.published_until = now + keep_published
    jwk = generate_private_jwk(alg)
    key = SigningKey(kid=str(jwk["kid"]), alg=alg, private_jwk=jwk, created_at=now)
    db.add(key)
    db.flush()
    return key


class KeyState(StrEnum):
    ACTIVE = "active"  # signs new tokens
    PUBLISHED = "published"  # retired, still in JWKS so tokens it signed verify
    DROPPED = "dropped"  # retired and gone from JWKS


def key_state(key: SigningKey, now: datetime | None = None) -> KeyState:
    now = now or utcnow()
    if key.retired_at is None:
        return KeyState.ACTIVE
    if key.published_until is not None and key.published_until > now:
        return KeyState.PUBLISHED
    return KeyState.DROPPED
