"""Private signing keys at rest: AES-256-GCM under a key-encryption key (KEK) kept outside the database.

A database dump or a leaked backup then holds only ciphertext: minting tokens needs the KEK too,
which comes from the environment or a mounted file. Each wrapped key names its KEK by `kek_id`
(the first 8 hex digits of the KEK's SHA-256), so several KEKs can be configured while keys are
re-wrapped under a new one. The key's kid and alg are the associated data: a wrapped blob moved
onto another row does not unwrap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridge.services.errors import DomainError

KEK_BYTES = 32
_NONCE_BYTES = 12
_PURPOSE = b"edu-id-bridge/signing-key/v1"
_DEVELOPMENT_LABEL = b"edu-id-bridge development key-encryption key"


class KeyEncryptionError(DomainError):
    """A wrapped key that cannot be unwrapped here: its KEK is not configured, or the row was altered."""

    def __init__(self, message: str) -> None:
        super().__init__("key_encryption", message)


@dataclass(frozen=True)
class KeyEncryptionKey:
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEK_BYTES:
            raise ValueError(f"a key-encryption key is {KEK_BYTES} bytes, not {len(self.secret)}")

    @property
    def id(self) -> str:
        return kek_id(self.secret)

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(os.urandom(KEK_BYTES))

    def to_base64(self) -> str:
        """How an operator writes it into the environment or the file."""
        return base64.b64encode(self.secret).decode()

    @classmethod
    def from_base64(cls, text: str) -> KeyEncryptionKey:
        """Standard or URL-safe base64, padded or not; anything else raises ValueError."""
        value = text.strip()
        padded = value + "=" * (-len(value) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        return cls(raw)


def kek_id(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:8]


def development_key_encryption_key(secret_key: str) -> KeyEncryptionKey:
    """Derived from the bridge's secret key: only so that development and tests wrap keys as production does."""
    return KeyEncryptionKey(hmac.new(secret_key.encode(), _DEVELOPMENT_LABEL, hashlib.sha256).digest())


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    # base64url(nonce ‖ ciphertext ‖ tag), unpadded.
    blob: str


class Keyring:
    """The configured KEKs; the first one wraps new keys, any of them unwraps."""

    def __init__(self, keys: Iterable[KeyEncryptionKey], *, development: bool = False) -> None:
        self._keys: dict[str, KeyEncryptionKey] = {}
        for key in keys:
            self._keys.setdefault(key.id, key)
        if not self._keys:
            raise ValueError("a keyring needs at least one key-encryption key")
        self.development = development

    def __repr__(self) -> str:
        return f"Keyring({list(self._keys)!r}, development={self.development})"

    @property
    def primary_id(self) -> str:
        return next(iter(self._keys))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __contains__(self, kek_id: object) -> bool:
        return kek_id in self._keys

    def wrap(self, jwk: dict[str, Any], *, kid: str, alg: str, kek_id: str | None = None) -> WrappedKey:
        target = kek_id or self.primary_id
        aesgcm = AESGCM(self._key(target, kid).secret)
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
        sealed = nonce + aesgcm.encrypt(nonce, plaintext, _associated_data(kid, alg))
        return WrappedKey(target, base64.urlsafe_b64encode(sealed).decode().rstrip("="))

    def unwrap(self, wrapped: WrappedKey, *, kid: str, alg: str) -> dict[str, Any]:
        aesgcm = AESGCM(self._key(wrapped.kek_id, kid).secret)
        try:
            sealed = base64.urlsafe_b64decode(wrapped.blob + "=" * (-len(wrapped.blob) % 4))
            plaintext = aesgcm.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _associated_data(kid, alg))
        except (InvalidTag, binascii.Error, ValueError):
            raise KeyEncryptionError(
                f"Ключ подписи {kid} не расшифровывается ключом шифрования {wrapped.kek_id}: "
                "запись в базе изменена (signing key does not unwrap: the row was altered)."
            ) from None
        jwk: dict[str, Any] = json.loads(plaintext)
        return jwk

    def _key(self, kek_id: str, kid: str) -> KeyEncryptionKey:
        try:
            return self._keys[kek_id]
        except KeyError:
            raise KeyEncryptionError(
                f"Ключ подписи {kid} зашифрован ключом шифрования {kek_id}, которого нет в настройке "
                f"(настроены: {', '.join(self._keys)}); добавьте его в BRIDGE_KEY_ENCRYPTION_KEY(_FILE). "
                f"Signing key {kid} is wrapped under key-encryption key {kek_id}, which is not configured."
            ) from None


def _associated_data(kid: str, alg: str) -> bytes:
    return b"\x00".join((_PURPOSE, kid.encode(), alg.encode()))
