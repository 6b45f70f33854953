"""Which code computes GOST here: OpenSSL's gost engine when it loads, else gostcrypto on GMP arithmetic.

Why (issue 12, ``benchmarks/gost.py``: CPU ms on the 2-core dev machine, one ESIA sign-in = two
client_secret signatures + one id_token verification):

| implementation                              | sign | verify | sign-in | vs before |
|---------------------------------------------|------|--------|---------|-----------|
| gostcrypto, pure Python (before)            | 27.5 | 56.5   | 111     | 1×        |
| gostcrypto + CPython's ``pow(x, -1, p)``    | 15.6 | 28.5   | 60      | 1.9×      |
| gostcrypto + gmpy2 (the fallback)           | 2.4  | 4.8    | 9.6     | 12×       |
| OpenSSL 3 + gost engine, ctypes (the choice)| 0.04 | 0.13   | 0.21    | 530×      |
| ``openssl dgst -engine gost``, a process    | 5.1  | 3.9    | 14      | 8×        |

(verify = a 630-byte id_token input; in the gostcrypto rows its Streebog alone is 2.8 ms.)

Only the engine meets the ≤ 5 ms budget, by a factor of twenty; it is the implementation ESIA's byte
order was pinned against, and it multiplies by the secret nonce in constant time where gostcrypto
branches on its bits. Its cost is one Debian package, ``libengine-gost-openssl`` (``.ci/run`` and
the ``Dockerfile`` install it). Where it cannot be loaded (another OS, an OpenSSL without engines)
the bridge keeps working on the fastest path without it — gostcrypto with gmpy2's arithmetic, one
wheel from PyPI — and says so once with a WARNING. No maintained C-backed GOST library is on PyPI
(``pygost`` there is a placeholder; ``cryptoapy`` needs CryptoPro CSP on Windows).

The choice is made once per process, at the first GOST operation, not at import.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from typing import Protocol

from .gmp_arithmetic import GostcryptoBackend
from .openssl_engine import EngineUnavailable, OpenSslGost

logger = logging.getLogger("gost_jws")

ENGINE_MISSING_WARNING = (
    "GOST: OpenSSL's gost engine is not usable (%s); signing and verifying with gostcrypto on gmpy2 "
    "instead, about 10 ms of CPU per ESIA sign-in rather than 0.2 ms. On Debian: "
    "apt-get install libengine-gost-openssl"
)


class SigningKey(Protocol):
    def sign(self, message: bytes) -> bytes:
        """64 bytes ``s || r`` over Streebog-256 of ``message`` (see ``gost.py``)."""
        ...


class VerifyingKey(Protocol):
    def verify(self, message: bytes, signature: bytes) -> bool: ...


class GostBackend(Protocol):
    @property
    def name(self) -> str: ...

    def streebog256(self, data: bytes) -> bytes: ...

    def signing_key(self, curve: str, d: int) -> SigningKey: ...

    def verifying_key(self, curve: str, x: int, y: int) -> VerifyingKey: ...


_choosing = threading.Lock()


@cache
def _choose() -> GostBackend:
    try:
        return OpenSslGost.load()
    except EngineUnavailable as error:
        logger.warning(ENGINE_MISSING_WARNING, error)
        return GostcryptoBackend()


def gost_backend() -> GostBackend:
    """The process's GOST implementation (the engine, or the fallback with one WARNING)."""
    with _choosing:
        return _choose()


@cache
def arithmetic() -> GostcryptoBackend:
    """gostcrypto on GMP: key generation and public halves, whichever backend signs."""
    return GostcryptoBackend()
