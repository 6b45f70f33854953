from __future__ import annotations

import base64
import json

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidClaimError, UnsupportedAlgorithmError
from joserfc.jwk import OctKey

from gost_jws import (
    EsiaClaimsRegistry,
    GostJWK,
    GostPrivateKey,
    RsaPrivateKey,
    decode_jwt,
    encode_jwt,
    jws_registry,
    to_jwk,
)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_jwt_roundtrip_through_joserfc(gost_key: GostPrivateKey, other_gost_key: GostPrivateKey) -> None:
    header = {"alg": "GOST3410_2012_256", "sbt": "id", "ver": 1}
    token = jwt.encode(header, {"sub": "1000", "aud": "rp"}, to_jwk(gost_key), registry=jws_registry())
    decoded = jwt.decode(token, to_jwk(gost_key.public_key), registry=jws_registry())
    assert decoded.header["alg"] == "GOST3410_2012_256"
    assert decoded.claims == {"sub": "1000", "aud": "rp"}
    with pytest.raises(BadSignatureError):
        jwt.decode(token, to_jwk(other_gost_key.public_key), registry=jws_registry())


def test_none_and_hmac_cannot_sneak_in(gost_key: GostPrivateKey) -> None:
    claims = _b64({"sub": "1000"})
    registry = jws_registry(("GOST3410_2012_256", "RS256"))
    for alg in ("none", "HS256"):
        with pytest.raises(UnsupportedAlgorithmError):
            jwt.decode(f"{_b64({'alg': alg})}.{claims}.", to_jwk(gost_key.public_key), registry=registry)
    with pytest.raises(UnsupportedAlgorithmError):
        jwt.decode(f"{_b64({'alg': 'HS256'})}.{claims}.x", OctKey.import_key(b"k" * 32), registry=registry)
    with pytest.raises(ValueError):
        jws_registry(("GOST3410_2012_256", "none"))


def test_helpers_pin_the_alg_to_the_key(gost_key: GostPrivateKey, rsa_key: RsaPrivateKey) -> None:
    rsa_token = encode_jwt({"sub": "2"}, rsa_key)
    assert decode_jwt(rsa_token, rsa_key.verifier()).claims == {"sub": "2"}
    with pytest.raises(UnsupportedAlgorithmError):
        decode_jwt(rsa_token, gost_key.public_key)


def test_gost_jwk_exports_public_fields(gost_key: GostPrivateKey) -> None:
    jwk = to_jwk(gost_key, {"kid": "esia-1"})
    assert isinstance(jwk, GostJWK)
    public = jwk.as_dict()
    assert public["kty"] == "GOST" and public["kid"] == "esia-1" and "d" not in public
    assert jwk.as_dict(private=True)["d"] == gost_key.to_json_dict()["d"]


def test_esia_claims_registry_accepts_a_numeric_sub() -> None:
    registry = EsiaClaimsRegistry(sub={"essential": True, "value": "1000299654"})
    registry.validate({"sub": 1000299654})
    with pytest.raises(InvalidClaimError):
        registry.validate({"sub": 1000299655})
    with pytest.raises(InvalidClaimError):
        EsiaClaimsRegistry().validate({"sub": True})
