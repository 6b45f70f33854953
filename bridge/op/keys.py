"""The signing keys as this process sees them: loaded from the database, cached briefly.

One key is active per supported algorithm (ES256 and RS256), so each relying app can have its
id_tokens signed the way it registered. Another worker (or `bridge keys rotate`) may add a key
at any time; the cache is refreshed every few seconds and at once (at most once a second) when a
token names a kid we do not know yet.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.signing_keys import (
    SUPPORTED_ALGORITHMS,
    SigningKeyPolicy,
    active_signing_key,
    maintain_signing_keys,
    private_jwk,
    published_signing_keys,
)

REFRESH_SECONDS = 30.0
# A token naming a kid we do not know reloads the keys at once, but not more often than this: the
# kid is the caller's to choose, and a stream of made-up kids must not turn every unauthenticated
# request (an id_token_hint, a bearer token) into a reload of the keyring. A key another worker
# has just added is still seen within this long.
UNKNOWN_KID_RELOAD_SECONDS = 1.0


@dataclass(frozen=True)
class _Snapshot:
    signing: dict[str, ECKey | RSAKey]
    published: KeySet
    loaded_at: float
    # Each active key as a one-key set, made once per load rather than at every token signed.
    signing_sets: dict[str, KeySet] = field(default_factory=dict)


class KeyStore:
    def __init__(self, factory: sessionmaker[Session], policy: SigningKeyPolicy) -> None:
        self._factory = factory
        self._policy = policy
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def signing_key(self, alg: str) -> KeySet:
        """The active key of `alg` as a one-key set: joserfc then writes its kid into the header."""
        return self._current().signing_sets[alg]

    def verification_keys(self, kid: str | None = None) -> KeySet:
        snapshot = self._current()
        if kid is not None and not any(key.kid == kid for key in snapshot.published.keys):
            snapshot = self._current(force=True, unless_younger_than=UNKNOWN_KID_RELOAD_SECONDS)
        return snapshot.published

    def public_jwks(self) -> dict[str, Any]:
        keys = []
        for key in self._current().published.keys:
            public = dict(key.as_dict(private=False))
            public.setdefault("use", "sig")
            keys.append(public)
        return {"keys": keys}

    def reload(self) -> None:
        self._current(force=True)

    def reload_if_stale(self) -> None:
        self._current()

    def _current(self, *, force: bool = False, unless_younger_than: float = 0.0) -> _Snapshot:
        snapshot = self._snapshot
        if not force and snapshot is not None and time.monotonic() - snapshot.loaded_at < REFRESH_SECONDS:
            return snapshot
        with self._lock:
            if not force and self._snapshot is not None and self._snapshot is not snapshot:
                return self._snapshot
            if self._snapshot is not None and time.monotonic() - self._snapshot.loaded_at < unless_younger_than:
                return self._snapshot
            # Wraps keys still in plaintext, creates missing keys and rotates due ones, in short
            # transactions of its own; then only the active keys are unwrapped.
            maintain_signing_keys(self._factory, self._policy)
            # A key already imported is reused by its kid: unwrapping and importing (an RSA private
            # key above all) costs far more than the refresh's queries.
            known = {key.kid: key for key in self._snapshot.signing.values()} if self._snapshot else {}
            known_public = {key.kid: key for key in self._snapshot.published.keys} if self._snapshot else {}
            with self._factory() as db, db.begin():
                keyring = self._policy.keyring
                signing = {}
                for alg in SUPPORTED_ALGORITHMS:
                    record = active_signing_key(db, alg, keyring=keyring)
                    signing[alg] = known.get(record.kid) or _import(private_jwk(record, keyring))
                published: list[Any] = [
                    known_public.get(record.kid) or _import(record.public_jwk) for record in published_signing_keys(db)
                ]
            self._snapshot = _Snapshot(
                signing, KeySet(published), time.monotonic(), {alg: KeySet([key]) for alg, key in signing.items()}
            )
            return self._snapshot


def _import(jwk: dict[str, Any]) -> ECKey | RSAKey:
    if jwk.get("kty") == "EC":
        return ECKey.import_key(jwk)
    return RSAKey.import_key(jwk)
