"""The bridge's own token-signing keys, kept in the database so every worker and restart signs alike.

One key is active per algorithm (ES256 and RS256 are both kept, so an app may ask for either); a
unique partial index makes that hold even when workers create or rotate keys at once. A rotated
key stops signing but stays published in JWKS until `published_until`, so tokens it signed still
verify at relying apps. Keys rotate on a schedule (`SigningKeyPolicy.rotation_period`) when the
key store next loads them, and by `bridge keys rotate`.

The private half is stored only wrapped under a key-encryption key (bridge.services.key_encryption);
verification needs only `public_jwk`, so only the active keys are ever unwrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bridge.services import audit
from bridge.services.errors import DomainError
from bridge.services.key_encryption import KeyEncryptionError, Keyring, WrappedKey
from bridge.storage.database import transaction
from bridge.storage.models import SigningKey
from bridge.storage.types import utcnow

SUPPORTED_ALGORITHMS = ("ES256", "RS256")
# Long enough for every token signed by the old key to expire, and for apps to refresh JWKS.
DEFAULT_PUBLISH_AFTER_ROTATION = timedelta(days=7)
# JWK members that are private (RFC 7518 §6.2.2, §6.3.2): never stored outside the wrapped blob.
PRIVATE_PARAMETERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Key maintenance by the bridge itself (scheduled rotation, wrapping keys stored before 0011).
KEY_MAINTENANCE_ACTOR = "system:signing-keys"


@dataclass(frozen=True)
class SigningKeyPolicy:
    """How this bridge keeps its keys: the KEKs that wrap them, and when they rotate."""

    keyring: Keyring
    # An active key older than this is replaced when the keys are next loaded; None: never on its own.
    rotation_period: timedelta | None = None
    # How long a key replaced on schedule stays published.
    keep_published: timedelta = DEFAULT_PUBLISH_AFTER_ROTATION


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


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in jwk.items() if name not in PRIVATE_PARAMETERS}


def private_jwk(record: SigningKey, keyring: Keyring) -> dict[str, Any]:
    """The key's private JWK, unwrapped with the keyring (a key from before 0011 is still plaintext)."""
    if record.wrapped_jwk is not None and record.kek_id is not None:
        return keyring.unwrap(WrappedKey(record.kek_id, record.wrapped_jwk), kid=record.kid, alg=record.alg)
    if record.plaintext_jwk is not None:
        return dict(record.plaintext_jwk)
    raise KeyEncryptionError(f"Ключ подписи {record.kid} не содержит закрытой части (signing key has no private half).")


def active_signing_key(
    db: Session, alg: str, now: datetime | None = None, *, keyring: Keyring | None = None
) -> SigningKey:
    """The key that signs with `alg` now; with a keyring, generated on first need."""
    key = db.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None), SigningKey.alg == alg))
    if key is not None:
        return key
    if keyring is None:
        raise KeyEncryptionError(f"Нет действующего ключа подписи {alg} (no active {alg} signing key).")
    return _create_key(db, alg, keyring, now or utcnow())


def rotate_signing_key(
    db: Session, alg: str, *, keyring: Keyring, keep_published: timedelta = DEFAULT_PUBLISH_AFTER_ROTATION,
    now: datetime | None = None,
) -> SigningKey:
    """A new active key of `alg`; the previous one stops signing and stays published for `keep_published`."""
    now = now or utcnow()
    db.execute(
        update(SigningKey)
        .where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)
        .values(retired_at=now, published_until=now + keep_published)
    )
    return _create_key(db, alg, keyring, now)


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


# --- Keeping the keys current ------------------------------------------------------------------


@dataclass(frozen=True)
class KeyMaintenance:
    """What one maintenance did: kids created (none was active), rotated on schedule (old → new), wrapped."""

    created: list[str] = field(default_factory=list)
    rotated: list[tuple[str, str]] = field(default_factory=list)
    wrapped: list[str] = field(default_factory=list)


def maintain_signing_keys(
    factory: sessionmaker[Session], policy: SigningKeyPolicy, now: datetime | None = None, *, attempts: int = 5
) -> KeyMaintenance:
    """Wrap keys still stored in plaintext, create missing active keys, rotate keys that are due.

    Every change is its own short transaction, taken by a conditional statement, so any number of
    workers may run this at once: a key is rotated by whoever retires it first, and of two workers
    creating a first key the unique index lets one win; the other reads the winner's key on retry.
    When nothing is due it is one SELECT.
    """
    for attempt in range(attempts):
        try:
            return _maintain(factory, policy, now or utcnow())
        except IntegrityError:
            if attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


def _maintain(factory: sessionmaker[Session], policy: SigningKeyPolicy, now: datetime) -> KeyMaintenance:
    with transaction(factory) as db:
        rows = db.execute(
            select(SigningKey.kid, SigningKey.alg, SigningKey.created_at, SigningKey.retired_at,
                   SigningKey.plaintext_jwk.is_not(None))
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.plaintext_jwk.is_not(None)))
        ).all()
    done = KeyMaintenance()
    context = audit.AuditContext(actor=KEY_MAINTENANCE_ACTOR)
    for kid, alg, _created_at, _retired_at, plaintext in rows:
        if plaintext:
            with transaction(factory) as db:
                if _wrap_plaintext(db, kid, policy.keyring):
                    audit.record(db, context, "oidc.keys.wrapped", "success", kid=kid, alg=alg,
                                 kek_id=policy.keyring.primary_id)
                    done.wrapped.append(kid)
    active = {alg: (kid, created_at) for kid, alg, created_at, retired_at, _ in rows if retired_at is None}
    for alg in SUPPORTED_ALGORITHMS:
        if alg not in active:
            with transaction(factory) as db:
                done.created.append(_create_key(db, alg, policy.keyring, now).kid)
            continue
        kid, created_at = active[alg]
        if policy.rotation_period is None or created_at > now - policy.rotation_period:
            continue
        with transaction(factory) as db:
            retired = db.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
                .values(retired_at=now, published_until=now + policy.keep_published)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(retired, "rowcount", 0) or 0) != 1:
                continue  # another worker (or `bridge keys rotate`) replaced it first
            new = _create_key(db, alg, policy.keyring, now)
            audit.record(db, context, "oidc.keys.rotated", "success", kid=new.kid, alg=alg, retired_kid=kid,
                         reason="schedule", keep_published_days=policy.keep_published.days)
            done.rotated.append((kid, new.kid))
    return done


def _wrap_plaintext(db: Session, kid: str, keyring: Keyring) -> bool:
    record = db.get(SigningKey, kid)
    if record is None or record.plaintext_jwk is None:
        return False
    wrapped = keyring.wrap(dict(record.plaintext_jwk), kid=record.kid, alg=record.alg)
    result = db.execute(
        update(SigningKey)
        .where(SigningKey.kid == kid, SigningKey.plaintext_jwk.is_not(None))
        .values(kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob, plaintext_jwk=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


# --- Re-wrapping under another key-encryption key ------------------------------------------------


@dataclass(frozen=True)
class Rewrapped:
    kek_id: str
    # Keys re-wrapped (or wrapped, if they were still plaintext); keys already under the KEK.
    rewrapped: list[str]
    unchanged: list[str]


def rewrap_signing_keys(db: Session, keyring: Keyring, to_kek_id: str) -> Rewrapped:
    """Every key wrapped under `to_kek_id`, in the caller's one transaction: all or none."""
    if to_kek_id not in keyring:
        raise DomainError(
            "unknown_kek",
            f"Ключ шифрования {to_kek_id} не настроен (настроены: {', '.join(keyring.ids)}). "
            "Добавьте его в BRIDGE_KEY_ENCRYPTION_KEY(_FILE) первым.",
        )
    rewrapped: list[str] = []
    unchanged: list[str] = []
    records: Sequence[SigningKey] = db.scalars(
        select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid).with_for_update()
    ).all()
    for record in records:
        if record.kek_id == to_kek_id and record.plaintext_jwk is None:
            unchanged.append(record.kid)
            continue
        wrapped = keyring.wrap(private_jwk(record, keyring), kid=record.kid, alg=record.alg, kek_id=to_kek_id)
        record.kek_id, record.wrapped_jwk, record.plaintext_jwk = wrapped.kek_id, wrapped.blob, None
        rewrapped.append(record.kid)
    db.flush()
    return Rewrapped(to_kek_id, rewrapped, unchanged)


def _create_key(db: Session, alg: str, keyring: Keyring, now: datetime) -> SigningKey:
    if alg not in SUPPORTED_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    jwk = generate_private_jwk(alg)
    kid = str(jwk["kid"])
    wrapped = keyring.wrap(jwk, kid=kid, alg=alg)
    key = SigningKey(
        kid=kid, alg=alg, public_jwk=public_jwk(jwk), kek_id=wrapped.kek_id, wrapped_jwk=wrapped.blob,
        created_at=now,
    )
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
