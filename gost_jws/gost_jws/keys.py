"""One small interface over both key kinds: a Signer signs, a Verifier verifies; ``alg`` names which.

Text forms: a GOST key is its JSON (see ``gost.py``), an RSA key is PEM. ``load_signer`` and
``load_verifier`` tell them apart by the first character.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from .backend import gost_backend
from .gost import GostPrivateKey, GostPublicKey, dump_gost_key, load_gost_key, streebog256
from .openssl_engine import OpenSslGost
from .rsa import RsaPrivateKey, RsaPublicKey, load_rsa_key


@runtime_checkable
class Verifier(Protocol):
    """Checks signatures made by one key; ``alg`` is ``GOST3410_2012_256`` or ``RS256``."""

    @property
    def alg(self) -> str: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


@runtime_checkable
class Signer(Protocol):
    """Signs with one private key; ``verifier()`` is its public half."""

    @property
    def alg(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...

    def verifier(self) -> Verifier: ...


AnyPrivateKey = GostPrivateKey | RsaPrivateKey
AnyPublicKey = GostPublicKey | RsaPublicKey


def sign(message: bytes, private_key: Signer) -> bytes:
    """The raw signature bytes (GOST: ``s || r`` big-endian; RSA: PKCS#1 v1.5 over SHA-256)."""
    return private_key.sign(message)


def verify(message: bytes, signature: bytes, public_key: Verifier) -> bool:
    return public_key.verify(message, signature)


def _load(text: str) -> AnyPrivateKey | AnyPublicKey:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return load_gost_key(stripped)
    if stripped.startswith("-----BEGIN"):
        return load_rsa_key(stripped)
    raise ValueError("a key is either GOST JSON or RSA PEM")


def load_signer(text: str) -> AnyPrivateKey:
    key = _load(text)
    if not isinstance(key, GostPrivateKey | RsaPrivateKey):
        raise ValueError("a private key is required")
    return key


def load_verifier(text: str) -> AnyPublicKey:
    """A public key from GOST JSON or RSA PEM; given a private key, its public half."""
    key = _load(text)
    if isinstance(key, GostPrivateKey | RsaPrivateKey):
        return key.verifier()
    return key


def load_signer_file(path: str | os.PathLike[str]) -> AnyPrivateKey:
    return load_signer(Path(path).read_text(encoding="utf-8"))


def load_verifier_file(path: str | os.PathLike[str]) -> AnyPublicKey:
    return load_verifier(Path(path).read_text(encoding="utf-8"))


def export_public(key: AnyPrivateKey | AnyPublicKey) -> str:
    """The public half in text form: GOST JSON or RSA PEM."""
    public = key.verifier() if isinstance(key, GostPrivateKey | RsaPrivateKey) else key
    if isinstance(public, GostPublicKey):
        return dump_gost_key(public)
    return public.to_pem()


def export_private(key: AnyPrivateKey) -> str:
    if isinstance(key, GostPrivateKey):
        return dump_gost_key(key)
    return key.to_pem()


def key_fingerprint(key: AnyPrivateKey | AnyPublicKey) -> str:
    """Upper-case hex Streebog-256 of the public key (GOST: ``x || y``; RSA: DER SubjectPublicKeyInfo).

    The mock accepts it as ``client_certificate_hash`` when a client registers no explicit hash;
    production ESIA hashes the client's certificate instead.
    """
    public = key.verifier() if isinstance(key, GostPrivateKey | RsaPrivateKey) else key
    material = public.point_bytes() if isinstance(public, GostPublicKey) else public.der()
    return streebog256(material).hex().upper()


def cheap_to_use(key: AnyPrivateKey | AnyPublicKey) -> bool:
    """True when one signature or verification with ``key`` takes about a tenth of a millisecond of CPU
    (a GOST key, OpenSSL's engine computing): less than handing it to a worker thread costs a server's
    event loop. False on the gmpy2 fallback (about 5 ms) and for RSA keys (local setups, about 1 ms to sign).
    """
    return isinstance(key, GostPrivateKey | GostPublicKey) and isinstance(gost_backend(), OpenSslGost)
