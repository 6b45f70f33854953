from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gost_jws import (
    GostPrivateKey,
    RsaPrivateKey,
    b64url_decode,
    client_secret,
    esia_timestamp,
    parse_esia_timestamp,
    verify_client_secret,
)

PARTS = ("bridge-demo", "openid fullname", "", "2024.05.06 10:11:12 +0300", "6f1c", "http://rp/cb")


def test_client_secret_is_unpadded_base64url_of_the_signature(gost_key: GostPrivateKey) -> None:
    secret = client_secret(gost_key, *PARTS)
    assert "=" not in secret and "+" not in secret and "/" not in secret
    assert gost_key.public_key.verify("".join(PARTS).encode(), b64url_decode(secret))
    assert verify_client_secret(gost_key.public_key, secret, *PARTS)
    assert not verify_client_secret(gost_key.public_key, secret, *PARTS[:-1], "http://evil/cb")
    assert not verify_client_secret(gost_key.public_key, "not base64!", *PARTS)


def test_rsa_client_secret(rsa_key: RsaPrivateKey) -> None:
    secret = client_secret(rsa_key, *PARTS)
    assert verify_client_secret(rsa_key.verifier(), secret, *PARTS)
    assert not verify_client_secret(rsa_key.verifier(), secret, *PARTS, "code")


def test_esia_timestamp_format() -> None:
    moment = datetime(2024, 5, 6, 7, 11, 12, tzinfo=UTC)
    assert esia_timestamp(moment) == "2024.05.06 10:11:12 +0300"
    assert parse_esia_timestamp("2024.05.06 10:11:12 +0300") == moment
    assert parse_esia_timestamp("2024.05.06 07:11:12 +0000") == moment.astimezone(timezone(timedelta(0)))
    for bad in ("2024-05-06 10:11:12 +0300", "2024.05.06 10:11:12", "2024.05.06T10:11:12+0300"):
        with pytest.raises(ValueError):
            parse_esia_timestamp(bad)
