"""The providers' signing keys, and tokens signed with them (or deliberately mis-signed)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gost_jws import (
    AnyPrivateKey,
    GostPrivateKey,
    RsaPrivateKey,
    b64url_decode,
    b64url_encode,
    encode_jwt,
    export_public,
    key_fingerprint,
    load_signer,
    to_jwk,
)

from .config import MockConfig


@dataclass(frozen=True)
class SigningKey:
    key: AnyPrivateKey
    kid: str

    @classmethod
    def of(cls, key: AnyPrivateKey) -> SigningKey:
        return cls(key, key_fingerprint(key)[:16].lower())

    @property
    def alg(self) -> str:
        return self.key.alg

    def public_text(self) -> str:
        return export_public(self.key)

    def public_jwk(self) -> dict[str, Any]:
        return dict(to_jwk(self.key.verifier()).as_dict(kid=self.kid, use="sig", alg=self.alg))


def _generate(alg: str) -> AnyPrivateKey:
    return GostPrivateKey.generate() if alg == "GOST3410_2012_256" else RsaPrivateKey.generate()


class SigningKeys:
    """ESIA's key (GOST or RSA) and РСАА's RSA key; either can be rotated by a fault."""

    def __init__(self, config: MockConfig) -> None:
        esia = load_signer(config.esia_signing_key) if config.esia_signing_key else _generate(config.esia_signing_alg)
        rsaa = load_signer(config.rsaa_signing_key) if config.rsaa_signing_key else RsaPrivateKey.generate()
        self._initial = (SigningKey.of(esia), SigningKey.of(rsaa))
        self.esia, self.rsaa = self._initial

    def rotate(self, provider: str) -> SigningKey:
        if provider == "esia":
            self.esia = SigningKey.of(_generate(self.esia.alg))
            return self.esia
        self.rsaa = SigningKey.of(RsaPrivateKey.generate())
        return self.rsaa

    def reset(self) -> None:
        self.esia, self.rsaa = self._initial


def sign_token(claims: Mapping[str, Any], key: SigningKey, header: Mapping[str, Any], fault: str | None = None) -> str:
    """A compact JWS; ``id_token_bad_signature`` flips signature bits, ``id_token_alg_none`` drops it."""
    if fault == "id_token_alg_none":
        segments = [{**header, "alg": "none"}, dict(claims)]
        encoded = [b64url_encode(json.dumps(part, ensure_ascii=False).encode()) for part in segments]
        return ".".join(encoded) + "."
    token = encode_jwt(claims, key.key, {**header, "kid": key.kid})
    if fault == "id_token_bad_signature":
        head, payload, signature = token.split(".")
        raw = bytearray(b64url_decode(signature))
        raw[len(raw) // 2] ^= 0x5A
        token = f"{head}.{payload}.{b64url_encode(bytes(raw))}"
    return token


def distort_times(claims: dict[str, Any], fault: str | None, now: int) -> None:
    """Move ``iat``/``nbf``/``exp`` for the expired and not-yet-valid faults."""
    if fault == "id_token_expired":
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif fault == "id_token_not_yet_valid":
        claims.update(iat=now + 3600, nbf=now + 3600, exp=now + 7200)


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def now() -> int:
    return int(time.time())
