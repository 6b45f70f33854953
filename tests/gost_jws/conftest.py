from __future__ import annotations

import pytest

from gost_jws import GostPrivateKey, RsaPrivateKey


@pytest.fixture(scope="session")
def gost_key() -> GostPrivateKey:
    return GostPrivateKey.generate()


@pytest.fixture(scope="session")
def other_gost_key() -> GostPrivateKey:
    return GostPrivateKey.generate()


@pytest.fixture(scope="session")
def rsa_key() -> RsaPrivateKey:
    return RsaPrivateKey.generate()
