"""Signed anchors of the audit chain: "at seq N the chain's hash was H", as a JWS by the bridge's key.

An anchor fixes the chain up to N: rewriting any record at or below N changes the hash at N,
and a new matching anchor needs the signing key. Anchors are written every
`BRIDGE_AUDIT_ANCHOR_EVERY` records, by `bridge audit anchor`, and before a purge (the purge
anchor is what allows deleting the records it covers; see bridge.services.audit_retention).

The JWS payload is the authority; the `seq` and `hash` columns are only there for queries, and
a check compares them with the payload. The anchor keeps the public half of its key, so it stays
checkable after the key is rotated and dropped; a check against keys kept outside the database
(`bridge audit verify --jwks`) is what holds against someone who can write to the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy.orm import Session

from bridge.services.audit_settings import anchor_keyring_of
from bridge.services.key_encryption import KeyEncryptionError, Keyring
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor
from bridge.storage.types import utcnow

ANCHOR_ALGORITHM = "ES256"
ANCHOR_TYPE = "bridge-audit-anchor+jws"


@dataclass(frozen=True)
class AnchorSummary:
    """An anchor as plain values, for whoever reports it."""

    seq: int
    hash: str
    reason: AnchorReason
    created_at: datetime
    kid: str
    jws: str

    @classmethod
    def of(cls, anchor: AuditAnchor) -> AnchorSummary:
        return cls(anchor.seq, anchor.hash, AnchorReason(anchor.reason), anchor.created_at, anchor.kid, anchor.jws)


@dataclass(frozen=True)
class AnchorCheck:
    anchor: AuditAnchor
    problem: str | None  # None when the signature holds and the payload matches the row

    @property
    def valid(self) -> bool:
        return self.problem is None


def write_anchor(
    db: Session, seq: int, hash_: str, reason: AnchorReason, *, now: datetime | None = None,
    keyring: Keyring | None = None,
) -> AuditAnchor:
    """Sign (seq, hash) with the active ES256 key, unwrapped by `keyring` (default: the session's)."""
    now = now or utcnow()
    keyring = keyring or anchor_keyring_of(db)
    if keyring is None:
        raise KeyEncryptionError(
            "Не задан ключ шифрования ключей подписи: подписать якорь журнала нельзя "
            "(no key-encryption keyring configured for audit anchors)."
        )
    # Imported here: the key service audits its own changes (signing_keys → audit → this module).
    from bridge.services.signing_keys import active_signing_key, private_jwk

    key = _import(private_jwk(active_signing_key(db, ANCHOR_ALGORITHM, now, keyring=keyring), keyring))
    payload = {"seq": seq, "hash": hash_, "reason": reason.value, "iat": int(now.timestamp())}
    token = jws.serialize_compact(
        {"alg": ANCHOR_ALGORITHM, "kid": key.kid, "typ": ANCHOR_TYPE},
        json.dumps(payload, sort_keys=True, separators=(",", ":")),
        key,
        algorithms=[ANCHOR_ALGORITHM],
    )
    anchor = AuditAnchor(
        seq=seq,
        hash=hash_,
        reason=reason,
        created_at=now,
        kid=str(key.kid),
        public_jwk=dict(key.as_dict(private=False)),
        jws=token,
    )
    db.add(anchor)
    db.flush()
    return anchor


def check_anchor(anchor: AuditAnchor, trusted: Mapping[str, Mapping[str, Any]] | None = None) -> AnchorCheck:
    """The signature under the anchor's own public key, or under `trusted[kid]` when keys kept
    elsewhere are given (then an anchor by any other key is refused)."""
    if trusted is not None:
        jwk = trusted.get(anchor.kid)
        if jwk is None:
            return AnchorCheck(anchor, f"signed by key {anchor.kid!r}, which is not among the trusted keys")
    else:
        jwk = anchor.public_jwk
    try:
        verified = jws.deserialize_compact(anchor.jws, _import(dict(jwk)), algorithms=[ANCHOR_ALGORITHM, "RS256"])
        payload = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        return AnchorCheck(anchor, f"signature does not verify ({error.__class__.__name__})")
    if verified.headers().get("kid") != anchor.kid:
        return AnchorCheck(anchor, "the signed kid differs from the row's")
    if not isinstance(payload, dict):
        return AnchorCheck(anchor, "the signed payload is not an object")
    if (payload.get("seq"), payload.get("hash"), payload.get("reason")) != (anchor.seq, anchor.hash, anchor.reason):
        return AnchorCheck(anchor, "seq, hash or reason differ from what was signed")
    return AnchorCheck(anchor, None)


def trusted_keys_from_jwks(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Public keys by kid from a JWKS document (e.g. the bridge's published one, saved earlier)."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ValueError("a JWKS document has a list of keys")
    trusted: dict[str, dict[str, Any]] = {}
    for jwk in keys:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            public = dict(_import(jwk).as_dict(private=False))
            trusted[jwk["kid"]] = public
    return trusted


def _import(jwk: dict[str, Any]) -> ECKey | RSAKey:
    if jwk.get("kty") == "EC":
        return ECKey.import_key(jwk)
    return RSAKey.import_key(jwk)
