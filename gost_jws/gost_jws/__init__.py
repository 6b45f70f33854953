"""GOST R 34.10-2012 (256) signatures for ESIA: keys, raw signatures, client_secret, and JWS via joserfc.

See ``gost.py`` for the exact signature bytes and ``docs/idp-mock.md`` for the key formats.
"""

from __future__ import annotations

from .client_secret import (
    b64url_decode,
    b64url_encode,
    client_secret,
    esia_timestamp,
    parse_esia_timestamp,
    verify_client_secret,
)
from .gost import (
    ALG as GOST_ALG,
)
from .gost import (
    GostKeyError,
    GostPrivateKey,
    GostPublicKey,
    dump_gost_key,
    load_gost_key,
    load_gost_key_file,
    save_gost_key_file,
    streebog256,
)
from .jose import (
    EsiaClaimsRegistry,
    GostJWK,
    GostJWSAlgorithm,
    GostJWSRegistry,
    decode_jwt,
    encode_jwt,
    jws_registry,
    to_jwk,
)
from .keys import (
    AnyPrivateKey,
    AnyPublicKey,
    Signer,
    Verifier,
    cheap_to_use,
    export_private,
    export_public,
    key_fingerprint,
    load_signer,
    load_signer_file,
    load_verifier,
    load_verifier_file,
    sign,
    verify,
)
from .rsa import ALG as RSA_ALG
from .rsa import RsaKeyError, RsaPrivateKey, RsaPublicKey, load_rsa_key

__all__ = [
    "GOST_ALG",
    "RSA_ALG",
    "AnyPrivateKey",
    "AnyPublicKey",
    "EsiaClaimsRegistry",
    "GostJWK",
    "GostJWSAlgorithm",
    "GostJWSRegistry",
    "GostKeyError",
    "GostPrivateKey",
    "GostPublicKey",
    "RsaKeyError",
    "RsaPrivateKey",
    "RsaPublicKey",
    "Signer",
    "Verifier",
    "b64url_decode",
    "b64url_encode",
    "cheap_to_use",
    "client_secret",
    "decode_jwt",
    "dump_gost_key",
    "encode_jwt",
    "esia_timestamp",
    "export_private",
    "export_public",
    "jws_registry",
    "key_fingerprint",
    "load_gost_key",
    "load_gost_key_file",
    "load_rsa_key",
    "load_signer",
    "load_signer_file",
    "load_verifier",
    "load_verifier_file",
    "parse_esia_timestamp",
    "save_gost_key_file",
    "sign",
    "streebog256",
    "to_jwk",
    "verify",
    "verify_client_secret",
]
