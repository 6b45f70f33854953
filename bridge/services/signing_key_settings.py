"""How the signing keys are kept and renewed: `BRIDGE_KEY_ENCRYPTION_KEY(_FILE)`, `BRIDGE_SIGNING_KEY_ROTATION_DAYS`.

The key-encryption keys never live in the database: they come from the environment or from a
mounted file (a Docker or Kubernetes secret). Either holds one or more base64-encoded 32-byte keys,
separated by commas, spaces or new lines (`#` starts a comment line in the file); the first one
wraps new keys, the others only unwrap keys not yet re-wrapped (`bridge keys rewrap`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bridge.config import Settings, SettingsError
from bridge.services.key_encryption import KeyEncryptionKey, Keyring, development_key_encryption_key
from bridge.services.signing_keys import DEFAULT_PUBLISH_AFTER_ROTATION, SigningKeyPolicy

log = logging.getLogger("bridge.keys")

DEFAULT_ROTATION_PERIOD = timedelta(days=90)


@dataclass(frozen=True)
class SigningKeySettings:
    key_encryption_keys: tuple[KeyEncryptionKey, ...] = ()
    # An active key older than this is replaced at the next signing; None: only `bridge keys rotate`.
    rotation_period: timedelta | None = DEFAULT_ROTATION_PERIOD

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SigningKeySettings:
        def get(name: str) -> str | None:
            value = environ.get(f"BRIDGE_{name}")
            return value if value not in (None, "") else None

        inline, path = get("KEY_ENCRYPTION_KEY"), get("KEY_ENCRYPTION_KEY_FILE")
        if inline is not None and path is not None:
            raise SettingsError("Set BRIDGE_KEY_ENCRYPTION_KEY or BRIDGE_KEY_ENCRYPTION_KEY_FILE, not both.")
        if path is not None:
            keys = _parse_keys("BRIDGE_KEY_ENCRYPTION_KEY_FILE", _read_key_file(Path(path)))
        elif inline is not None:
            keys = _parse_keys("BRIDGE_KEY_ENCRYPTION_KEY", inline)
        else:
            keys = ()
        raw_days = get("SIGNING_KEY_ROTATION_DAYS")
        if raw_days is None:
            rotation: timedelta | None = DEFAULT_ROTATION_PERIOD
        elif raw_days.isdigit():
            rotation = timedelta(days=int(raw_days)) if int(raw_days) > 0 else None
        else:
            raise SettingsError(
                f"BRIDGE_SIGNING_KEY_ROTATION_DAYS must be a whole number of days (0: no scheduled rotation), "
                f"not {raw_days!r}"
            )
        return cls(key_encryption_keys=keys, rotation_period=rotation)

    def check_startable(self, *, production: bool) -> None:
        if production and not self.key_encryption_keys:
            raise SettingsError(
                "BRIDGE_KEY_ENCRYPTION_KEY is not set: production refuses to start without a key-encryption key "
                "for the signing keys (generate one with `bridge keys new-kek`; or mount a file and set "
                "BRIDGE_KEY_ENCRYPTION_KEY_FILE)."
            )

    def keyring(self, *, production: bool, secret_key: str) -> Keyring:
        """The configured KEKs; outside production, without any, one derived from the secret key (warned)."""
        self.check_startable(production=production)
        if self.key_encryption_keys:
            return Keyring(self.key_encryption_keys)
        log.warning(
            "BRIDGE_KEY_ENCRYPTION_KEY is not set: signing keys are wrapped under a development key derived "
            "from BRIDGE_SECRET_KEY. Set a real key-encryption key before production."
        )
        return Keyring([development_key_encryption_key(secret_key)], development=True)

    def policy(self, settings: Settings) -> SigningKeyPolicy:
        """What a running bridge signs with: the keyring, and when a key rotates and how long it stays published.

        After a scheduled rotation the old key stays in JWKS for the tokens' lifetime plus a margin
        for relying apps' JWKS caches and recent id_token_hints.
        """
        return SigningKeyPolicy(
            keyring=self.keyring(production=settings.is_production, secret_key=str(settings.secret_key)),
            rotation_period=self.rotation_period,
            keep_published=settings.access_token_ttl + DEFAULT_PUBLISH_AFTER_ROTATION,
        )


def _read_key_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not ASCII text"
        raise SettingsError(f"BRIDGE_KEY_ENCRYPTION_KEY_FILE cannot be read: {path}: {reason}") from None
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def _parse_keys(name: str, text: str) -> tuple[KeyEncryptionKey, ...]:
    entries = [entry for entry in re.split(r"[\s,]+", text) if entry]
    if not entries:
        raise SettingsError(f"{name} holds no key.")
    keys = []
    for number, entry in enumerate(entries, start=1):
        try:
            keys.append(KeyEncryptionKey.from_base64(entry))
        except ValueError:
            # Never the value itself: it may be a real key with a typo.
            raise SettingsError(
                f"{name}: key {number} is not the base64 of 32 bytes (generate one with `bridge keys new-kek`)."
            ) from None
    return tuple(keys)
