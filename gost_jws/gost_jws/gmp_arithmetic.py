"""GOST R 34.10-2012 through gostcrypto with GMP doing its arithmetic: the fallback backend.

gostcrypto adds points in affine coordinates and, at every addition, inverts a number with a
recursive pure-Python extended Euclid; that inverse alone was 57 % of the bridge's samples during
ESIA sign-ins (issue 12). ``GmpSignature`` keeps gostcrypto's algorithm — the same scalar loop, the
same range checks in ``sign`` and ``verify`` — and replaces only the point addition, computing it on
gmpy2's ``mpz`` with GMP's inverse. Per ESIA sign-in that is 12x less CPU than gostcrypto alone and
6x less than CPython's own ``pow(x, -1, p)`` in its place (``benchmarks/gost.py``). Streebog stays
gostcrypto's pure Python: 2.8 ms of the 4.8 ms an id_token verification costs here.

This is what runs when OpenSSL's gost engine is missing (``backend.py``); key generation and the
public half of a private key are computed here in every case.
"""

from __future__ import annotations

import os
from typing import Any

import gmpy2  # type: ignore[import-untyped]
import gostcrypto
from gostcrypto.gostsignature.gost_34_10_2012 import GOST34102012

SIZE = 32


class GmpSignature(GOST34102012):  # type: ignore[misc]
    """gostcrypto's GOST R 34.10-2012 with the point addition on GMP numbers."""

    _p: Any
    _a: Any
    _x: Any
    _y: Any
    _q: int

    def __init__(self, mode: int, curve: dict[str, int]) -> None:
        super().__init__(mode, curve)
        self._p, self._a = gmpy2.mpz(self._p), gmpy2.mpz(self._a)
        self._x, self._y = gmpy2.mpz(self._x), gmpy2.mpz(self._y)

    def _add(self, x_1: Any, x_2: Any, y_1: Any, y_2: Any) -> tuple[Any, Any]:
        # gostcrypto's formulas; a point at infinity (x equal, y opposite) raises ZeroDivisionError
        # where gostcrypto would go on with a zero inverse. Only a verification can meet it.
        p = self._p
        if x_1 == x_2 and y_1 == y_2:
            slope = (3 * x_1 * x_1 + self._a) * gmpy2.invert(2 * y_1, p) % p
        else:
            slope = (y_2 - y_1) * gmpy2.invert(x_2 - x_1, p) % p
        x_3 = (slope * slope - x_1 - x_2) % p
        return x_3, (slope * (x_1 - x_3) - y_1) % p

    def _mul_point(self, mul_value: int, x_op: int = -1, y_op: Any = -1) -> tuple[int, int]:
        x, y = super()._mul_point(mul_value, x_op, y_op)
        return int(x), int(y)


class GostcryptoSigningKey:
    def __init__(self, engine: GOST34102012, d: int) -> None:
        self._engine, self._d = engine, d

    def sign(self, message: bytes) -> bytes:
        r_s = bytes(self._engine.sign(bytearray(self._d.to_bytes(SIZE, "big")), _signing_digest(message)))
        return r_s[SIZE:] + r_s[:SIZE]


class GostcryptoVerifyingKey:
    def __init__(self, engine: GOST34102012, x: int, y: int) -> None:
        self._engine, self._point = engine, x.to_bytes(SIZE, "big") + y.to_bytes(SIZE, "big")

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * SIZE:
            return False
        s, r = signature[:SIZE], signature[SIZE:]
        try:
            return bool(self._engine.verify(bytearray(self._point), _signing_digest(message), bytearray(r + s)))
        except (gostcrypto.gostsignature.GOSTSignatureError, ZeroDivisionError):
            return False


class GostcryptoBackend:
    """GOST through gostcrypto, with ``signature_class`` doing the curve arithmetic.

    ``GmpSignature`` in production; the benchmark also passes gostcrypto's own class.
    """

    def __init__(self, signature_class: type[GOST34102012] = GmpSignature, name: str = "gostcrypto+gmpy2") -> None:
        self.name = name
        self._signature_class = signature_class
        self._engines: dict[str, GOST34102012] = {}

    def engine(self, curve: str) -> GOST34102012:
        if curve not in self._engines:
            self._engines[curve] = self._signature_class(
                gostcrypto.gostsignature.MODE_256, gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[curve]
            )
        return self._engines[curve]

    def streebog256(self, data: bytes) -> bytes:
        return bytes(gostcrypto.gosthash.new("streebog256", data=bytearray(data)).digest())

    def signing_key(self, curve: str, d: int) -> GostcryptoSigningKey:
        return GostcryptoSigningKey(self.engine(curve), d)

    def verifying_key(self, curve: str, x: int, y: int) -> GostcryptoVerifyingKey:
        return GostcryptoVerifyingKey(self.engine(curve), x, y)

    def public_point(self, curve: str, d: int) -> tuple[int, int]:
        point = bytes(self.engine(curve).public_key_generate(bytearray(d.to_bytes(SIZE, "big"))))
        return int.from_bytes(point[:SIZE], "big"), int.from_bytes(point[SIZE:], "big")

    def random_secret(self, curve: str) -> int:
        q = self.engine(curve)._q
        while True:
            d = int.from_bytes(os.urandom(SIZE), "big")
            if 0 < d < q:
                return d


def _signing_digest(message: bytes) -> bytearray:
    # gostcrypto reads the digest big-endian; GOST reads the Streebog output little-endian.
    digest = bytes(gostcrypto.gosthash.new("streebog256", data=bytearray(message)).digest())
    return bytearray(digest[::-1])
