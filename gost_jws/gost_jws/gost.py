"""GOST R 34.10-2012 (256-bit) keys and signatures over Streebog-256, in the byte order ESIA uses.

Byte layout, the contract shared by the mock and the bridge:

- digest: Streebog-256 (GOST R 34.11-2012) of the message, as OpenSSL and CryptoPro output it;
  the signing integer ``e`` is that digest read as a **little-endian** number (mod q), as the
  OpenSSL GOST engine and CryptoPro do;
- signature: 64 bytes ``s || r``, each a 32-byte **big-endian** integer. This is the OpenSSL GOST
  engine's output and the byte-reversed CryptoPro CSP output (CryptoPro writes the signature
  little-endian; ESIA's recommendations tell CryptoPro-based clients to reverse it).

The arithmetic is ``backend.py``'s: OpenSSL's gost engine when it loads, else gostcrypto on GMP.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .backend import SigningKey, VerifyingKey, arithmetic, gost_backend

ALG = "GOST3410_2012_256"
KEY_TYPE = "GOST"
# CryptoPro certificates usually sit on the CryptoPro-A curve, which TC26 renamed paramSetB.
DEFAULT_CURVE = "id-tc26-gost-3410-2012-256-paramSetB"
CURVES = (
    "id-tc26-gost-3410-2012-256-paramSetA",
    "id-tc26-gost-3410-2012-256-paramSetB",
    "id-tc26-gost-3410-2012-256-paramSetC",
    "id-tc26-gost-3410-2012-256-paramSetD",
)
SIZE = 32


class GostKeyError(ValueError):
    """A GOST key in a form we cannot use."""


def streebog256(data: bytes) -> bytes:
    """Streebog-256 digest, bytes in the order OpenSSL's ``md_gost12_256`` prints them."""
    return gost_backend().streebog256(data)


def _curve(curve: str) -> Any:
    """The curve's parameters (``_p``, ``_a``, ``_b``, ``_q``) as gostcrypto holds them."""
    if curve not in CURVES:
        raise GostKeyError(f"unsupported curve {curve!r}")
    return arithmetic().engine(curve)


def _hex(value: int) -> str:
    return value.to_bytes(SIZE, "big").hex()


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, str) or len(value) != 2 * SIZE:
        raise GostKeyError(f"'{name}' must be {2 * SIZE} hex digits")
    try:
        return int(value, 16)
    except ValueError as error:
        raise GostKeyError(f"'{name}' must be {2 * SIZE} hex digits") from error


@dataclass(frozen=True)
class GostPublicKey:
    """A GOST R 34.10-2012 256-bit public key: a point (x, y) on a named curve."""

    x: int
    y: int
    curve: str = DEFAULT_CURVE
    alg: str = ALG

    def __post_init__(self) -> None:
        curve = _curve(self.curve)
        p, a, b = int(curve._p), int(curve._a), int(curve._b)
        if not (0 < self.x < p and 0 < self.y < p) or (self.y * self.y - self.x**3 - a * self.x - b) % p:
            raise GostKeyError("the public key is not a point on the curve")

    @cached_property
    def _verifying_key(self) -> VerifyingKey:
        # Prepared once per key object (for the engine: an EVP_PKEY freed with the object).
        return gost_backend().verifying_key(self.curve, self.x, self.y)

    def point_bytes(self) -> bytes:
        """``x || y``, each 32 bytes big-endian."""
        return self.x.to_bytes(SIZE, "big") + self.y.to_bytes(SIZE, "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check an ``s || r`` signature (see the module doc) over ``message``."""
        if len(signature) != 2 * SIZE:
            return False
        return self._verifying_key.verify(message, signature)

    def to_json_dict(self) -> dict[str, str]:
        return {"kty": KEY_TYPE, "crv": self.curve, "x": _hex(self.x), "y": _hex(self.y)}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> GostPublicKey:
        if data.get("kty") != KEY_TYPE:
            raise GostKeyError(f"'kty' must be {KEY_TYPE!r}")
        curve = data.get("crv", DEFAULT_CURVE)
        if not isinstance(curve, str):
            raise GostKeyError("'crv' must be a string")
        return cls(_int(data, "x"), _int(data, "y"), curve)


@dataclass(frozen=True, repr=False)
class GostPrivateKey:
    """A GOST R 34.10-2012 256-bit private key with its public half."""

    d: int
    public_key: GostPublicKey
    alg: str = ALG

    def __repr__(self) -> str:
        return f"GostPrivateKey(curve={self.public_key.curve!r}, d=***)"

    @property
    def curve(self) -> str:
        return self.public_key.curve

    @classmethod
    def generate(cls, curve: str = DEFAULT_CURVE) -> GostPrivateKey:
        _curve(curve)
        return cls.from_secret(arithmetic().random_secret(curve), curve)

    @classmethod
    def from_secret(cls, d: int, curve: str = DEFAULT_CURVE) -> GostPrivateKey:
        if not 0 < d < _curve(curve)._q:
            raise GostKeyError("the private key is out of range")
        return cls(d, GostPublicKey(*arithmetic().public_point(curve, d), curve))

    @cached_property
    def _signing_key(self) -> SigningKey:
        return gost_backend().signing_key(self.curve, self.d)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``; 64 bytes ``s || r`` (see the module doc)."""
        return self._signing_key.sign(message)

    def verifier(self) -> GostPublicKey:
        return self.public_key

    def verify(self, message: bytes, signature: bytes) -> bool:
        return self.public_key.verify(message, signature)

    def to_json_dict(self) -> dict[str, str]:
        return {**self.public_key.to_json_dict(), "d": _hex(self.d)}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> GostPrivateKey:
        public = GostPublicKey.from_json_dict(data)
        key = cls.from_secret(_int(data, "d"), public.curve)
        if key.public_key != public:
            raise GostKeyError("'x'/'y' do not belong to 'd'")
        return key


def load_gost_key(text: str) -> GostPrivateKey | GostPublicKey:
    """Read a key from its JSON form: a private key when ``d`` is present, else a public key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise GostKeyError("not a JSON GOST key") from error
    if not isinstance(data, dict):
        raise GostKeyError("not a JSON GOST key")
    if "d" in data:
        return GostPrivateKey.from_json_dict(data)
    return GostPublicKey.from_json_dict(data)


def dump_gost_key(key: GostPrivateKey | GostPublicKey) -> str:
    return json.dumps(key.to_json_dict(), indent=2) + "\n"


def load_gost_key_file(path: str | os.PathLike[str]) -> GostPrivateKey | GostPublicKey:
    return load_gost_key(Path(path).read_text(encoding="utf-8"))


def save_gost_key_file(key: GostPrivateKey | GostPublicKey, path: str | os.PathLike[str]) -> None:
    """Write the key's JSON form; a private key file is created readable by its owner only."""
    target = Path(path)
    if isinstance(key, GostPrivateKey):
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dump_gost_key(key))
    else:
        target.write_text(dump_gost_key(key), encoding="utf-8")
