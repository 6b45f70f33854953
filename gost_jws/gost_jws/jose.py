"""``alg: GOST3410_2012_256`` for joserfc: a key class, an algorithm model and a registry.

joserfc only resolves keys of its own four classes, so ``GostJWK`` subclasses ``OKPKey`` to get
through that check while carrying ``kty: "GOST"``; no joserfc algorithm accepts that key type
except ours. ``jws_registry()`` knows only ``GOST3410_2012_256`` and ``RS256``: ``none`` and the
HMAC algorithms cannot be named in a header and slip through.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from joserfc import jwt
from joserfc.errors import InvalidKeyTypeError, UnsupportedKeyOperationError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import OKPKey, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry
from joserfc.registry import HeaderParameter, HeaderRegistryDict, KeyParameter

from . import gost
from .gost import GostKeyError, GostPrivateKey, GostPublicKey
from .keys import AnyPrivateKey, AnyPublicKey
from .rsa import RsaPrivateKey, RsaPublicKey

GOST_ALG = gost.ALG
RSA_ALG = "RS256"

#: Header members ESIA puts in its tokens (token kind ``sbt`` and format version ``ver``).
ESIA_HEADER_REGISTRY: HeaderRegistryDict = {
    "sbt": HeaderParameter("ESIA token kind: id, access, refresh", "str"),
    "ver": HeaderParameter("ESIA token format version", "int"),
}


class _GostBinding:
    """joserfc's hooks to turn a ``GostJWK`` into JSON and back."""

    use_key_ops_registry: ClassVar[dict[str, list[str]]] = {"sig": ["sign", "verify"], "enc": []}

    @classmethod
    def convert_raw_key_to_dict(cls, raw_key: Any, private: bool) -> dict[str, Any]:
        if private and isinstance(raw_key, GostPrivateKey):
            return dict(raw_key.to_json_dict())
        public = raw_key.public_key if isinstance(raw_key, GostPrivateKey) else raw_key
        return dict(public.to_json_dict())

    @classmethod
    def import_from_dict(cls, value: Mapping[str, Any]) -> GostPrivateKey | GostPublicKey:
        data = dict(value)
        if "d" in data:
            return GostPrivateKey.from_json_dict(data)
        return GostPublicKey.from_json_dict(data)

    @classmethod
    def import_from_bytes(cls, value: bytes, password: str | bytes | None = None) -> Any:
        return gost.load_gost_key(value.decode("utf-8"))

    @staticmethod
    def as_bytes(key: Any, encoding: Any = None, private: bool = False, password: Any = None) -> bytes:
        raise GostKeyError("GOST keys have no PEM/DER form here; use their JSON")

    @classmethod
    def validate_dict_key_registry(cls, dict_key: Any, registry: Any) -> None:
        for name, parameter in registry.items():
            if parameter.required and name not in dict_key:
                raise GostKeyError(f"'{name}' is required")

    @classmethod
    def validate_dict_key_use_operations(cls, dict_key: Any) -> None:
        if dict_key.get("use", "sig") != "sig":
            raise GostKeyError("a GOST key signs; 'use' must be 'sig'")


class GostJWK(OKPKey):
    """A GOST R 34.10-2012 key as joserfc sees it (``kty: "GOST"``)."""

    key_type = gost.KEY_TYPE
    value_registry = {  # noqa: RUF012 - overrides joserfc's class attribute
        "crv": KeyParameter("Curve", "str", private=False, required=True),
        "x": KeyParameter("X Coordinate, 64 hex digits", "str", private=False, required=True),
        "y": KeyParameter("Y Coordinate, 64 hex digits", "str", private=False, required=True),
        "d": KeyParameter("Private Key, 64 hex digits", "str", private=True, required=False),
    }
    binding = _GostBinding  # type: ignore[assignment]

    @classmethod
    def from_key(cls, key: GostPrivateKey | GostPublicKey, parameters: Mapping[str, Any] | None = None) -> GostJWK:
        return cls(key, key, dict(parameters) if parameters else None)  # type: ignore[arg-type]

    @property
    def is_private(self) -> bool:
        return isinstance(self._raw_value, GostPrivateKey)

    @property
    def public_key(self) -> GostPublicKey:  # type: ignore[override]
        raw = self._raw_value
        return raw.public_key if isinstance(raw, GostPrivateKey) else raw  # type: ignore[return-value]

    @property
    def private_key(self) -> GostPrivateKey | None:  # type: ignore[override]
        raw = self._raw_value
        return raw if isinstance(raw, GostPrivateKey) else None

    @property
    def curve_name(self) -> str:  # type: ignore[override]
        return self.public_key.curve

    def exchange_derive_key(self, key: Any) -> bytes:
        raise UnsupportedKeyOperationError("GOST keys only sign here")


class GostJWSAlgorithm(JWSAlgModel):
    """JWS ``GOST3410_2012_256``: Streebog-256 + GOST R 34.10-2012, signature ``s || r`` (64 bytes)."""

    name = GOST_ALG
    description = "GOST R 34.10-2012 (256) with GOST R 34.11-2012 (Streebog-256)"
    recommended = True
    key_type = gost.KEY_TYPE

    def check_key(self, key: Any) -> None:
        if not isinstance(key, GostJWK):
            raise InvalidKeyTypeError(f"Algorithm '{self.name}' requires a GOST key")
        super().check_key(key)

    def sign(self, msg: bytes, key: Any) -> bytes:
        private = key.private_key
        if private is None:
            raise UnsupportedKeyOperationError("signing needs the private key")
        return bytes(private.sign(msg))

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return bool(key.public_key.verify(msg, sig))


class GostJWSRegistry(JWSRegistry):
    """A JWS registry with only GOST3410_2012_256 and RS256; never ``none`` or HMAC."""

    algorithms: ClassVar[dict[str, JWSAlgModel]] = {  # type: ignore[misc]
        GOST_ALG: GostJWSAlgorithm(),
        RSA_ALG: JWSRegistry.algorithms[RSA_ALG],
    }
    recommended: ClassVar[list[str]] = [GOST_ALG]  # type: ignore[misc]


class EsiaClaimsRegistry(JWTClaimsRegistry):
    """joserfc's claim checks, tolerant of ESIA's numeric ``sub`` (``"sub": 1000299654``).

    The value is compared as a string, so ``sub={"essential": True, "value": "1000299654"}`` works.
    """

    def validate_sub(self, value: object) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        super().validate_sub(value)


def jws_registry(algorithms: Collection[str] = (GOST_ALG,), esia_headers: bool = True) -> JWSRegistry:
    """A registry allowing ``algorithms`` (a subset of GOST3410_2012_256 and RS256).

    With ``esia_headers`` the header members ESIA adds (``sbt``, ``ver``) are accepted too.
    """
    unknown = set(algorithms) - set(GostJWSRegistry.algorithms)
    if not algorithms or unknown:
        raise ValueError(f"allowed algorithms are {sorted(GostJWSRegistry.algorithms)}, got {sorted(algorithms)}")
    return GostJWSRegistry(
        header_registry=ESIA_HEADER_REGISTRY if esia_headers else None, algorithms=list(algorithms)
    )


def to_jwk(key: AnyPrivateKey | AnyPublicKey, parameters: Mapping[str, Any] | None = None) -> GostJWK | RSAKey:
    """The joserfc key for one of our keys (a GOST key becomes a ``GostJWK``)."""
    if isinstance(key, GostPrivateKey | GostPublicKey):
        return GostJWK.from_key(key, parameters)
    native = key.key
    return RSAKey.import_key(native, dict(parameters) if parameters else None)  # type: ignore[arg-type]


def encode_jwt(
    claims: Mapping[str, Any], key: AnyPrivateKey, header: Mapping[str, Any] | None = None
) -> str:
    """A compact JWT signed with ``key``; ``alg`` follows the key (GOST3410_2012_256 or RS256)."""
    full_header = {"alg": key.alg, **(header or {})}
    return jwt.encode(full_header, dict(claims), to_jwk(key), registry=jws_registry((key.alg,)))


def decode_jwt(token: str, key: AnyPublicKey | AnyPrivateKey) -> jwt.Token:
    """Verify the signature with ``key`` (only its own alg is allowed) and return header + claims.

    Claims (``exp``, ``aud``, ...) are not validated here: use ``joserfc.jwt.JWTClaimsRegistry``.
    """
    return jwt.decode(token, to_jwk(key), registry=jws_registry((key.alg,)))


__all__ = [
    "ESIA_HEADER_REGISTRY",
    "GOST_ALG",
    "RSA_ALG",
    "EsiaClaimsRegistry",
    "GostJWK",
    "GostJWSAlgorithm",
    "GostJWSRegistry",
    "RsaPrivateKey",
    "RsaPublicKey",
    "decode_jwt",
    "encode_jwt",
    "jws_registry",
    "to_jwk",
]
