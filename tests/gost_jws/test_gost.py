from __future__ import annotations

import pytest

from gost_jws import GostKeyError, GostPrivateKey, GostPublicKey, sign, streebog256, verify

# Made with OpenSSL's GOST engine:
#   openssl genpkey -engine gost -algorithm gost2012_256 -pkeyopt paramset:A -out key.pem
#   openssl dgst -engine gost -streebog256 -sign key.pem -out sig.bin msg
OPENSSL_D = 0x19FC9F5B2967DCD26BA8E8FAB7335F8016DF95E8AA562E1C2AECF5DD98E20CDB
OPENSSL_X = 0xA5B427AE9F3F5F2E0E0F6FD6E5075BB81935E981A74AF31B33ABB3B04718ABC2
OPENSSL_Y = 0x8167E98096878CADEE32899E51B93F77A30B64CB1060005EE4BCDFD9B541D397
OPENSSL_MESSAGE = b"hello esia"
OPENSSL_SIGNATURE = bytes.fromhex(
    "4e3234639214f7e03158bfebba1a70d14d16f3babae564548ebdbc3c0a1ac031"
    "601187ba0e75d0753775176320cf0a004cfb98b651738d79d638b73647a4729b"
)


def test_streebog256_matches_the_standard_example() -> None:
    # GOST R 34.11-2012, example 1, in the byte order OpenSSL prints.
    message = b"012345678901234567890123456789012345678901234567890123456789012"
    assert streebog256(message).hex() == "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"


def test_signature_made_by_openssl_verifies() -> None:
    key = GostPrivateKey.from_secret(OPENSSL_D)
    assert (key.public_key.x, key.public_key.y) == (OPENSSL_X, OPENSSL_Y)
    assert verify(OPENSSL_MESSAGE, OPENSSL_SIGNATURE, key.public_key)
    reversed_cryptopro_order = OPENSSL_SIGNATURE[::-1]
    assert not verify(OPENSSL_MESSAGE, reversed_cryptopro_order, key.public_key)


def test_sign_verify_roundtrip(gost_key: GostPrivateKey) -> None:
    signature = sign(b"message", gost_key)
    assert len(signature) == 64
    assert verify(b"message", signature, gost_key.public_key)


def test_tampered_message_signature_or_wrong_key_is_rejected(
    gost_key: GostPrivateKey, other_gost_key: GostPrivateKey
) -> None:
    signature = gost_key.sign(b"message")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not gost_key.public_key.verify(b"messagE", signature)
    assert not gost_key.public_key.verify(b"message", flipped)
    assert not other_gost_key.public_key.verify(b"message", signature)
    assert not gost_key.public_key.verify(b"message", signature[:-1])


def test_point_off_the_curve_is_refused() -> None:
    with pytest.raises(GostKeyError):
        GostPublicKey(OPENSSL_X, OPENSSL_Y + 1)


def test_edwards_curve_works() -> None:
    key = GostPrivateKey.generate("id-tc26-gost-3410-2012-256-paramSetA")
    assert key.public_key.verify(b"m", key.sign(b"m"))


def test_private_key_repr_hides_the_secret(gost_key: GostPrivateKey) -> None:
    assert f"{gost_key.d:x}" not in repr(gost_key)
