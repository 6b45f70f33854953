"""GOST R 34.10-2012 (256) and Streebog-256 in C: OpenSSL 3's libcrypto with its gost engine, via ctypes.

The engine is Debian's ``libengine-gost-openssl`` (``/usr/lib/<arch>/engines-3/gost.so``). Its
OpenSSL 3 provider (``gostprov``) has digests and ciphers but no signatures in 3.0.1, and the
``cryptography`` package cannot load engines, hence ctypes. Python's ``ssl`` and ``hashlib`` share
this libcrypto, so the engine touches as little global state as it can: only its ASN.1 methods for
GOST keys are registered (decoding a key needs them), the Streebog digest is taken from the engine
itself, and nothing is made a default — TLS clients here send the same ClientHello as before.
Calls release the GIL.

Keys reach OpenSSL as DER, the engine's own encoding: PrivateKeyInfo / SubjectPublicKeyInfo with
algorithm ``id-tc26-gost3410-12-256`` and the curve's OID; ``d`` little-endian in an OCTET STRING,
the point as ``x || y``, each little-endian, in an OCTET STRING. The engine signs and verifies
``s || r`` big-endian over Streebog-256 read little-endian — the layout ``gost.py`` documents.

``OpenSslGost.load()`` checks itself against fixed answers (a Streebog example of GOST R 34.11-2012
and a signature made by ``openssl dgst -engine gost``) before anything relies on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from collections.abc import Callable
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_uint, c_ulong, c_void_p
from typing import Self

SIZE = 32
ENGINE_ID = b"gost"
DIGEST_NAME = b"md_gost12_256"
ALGORITHM_OID = "1.2.643.7.1.1.1.1"  # id-tc26-gost3410-12-256
CURVE_OIDS = {
    "id-tc26-gost-3410-2012-256-paramSetA": "1.2.643.7.1.2.1.1.1",
    "id-tc26-gost-3410-2012-256-paramSetB": "1.2.643.7.1.2.1.1.2",
    "id-tc26-gost-3410-2012-256-paramSetC": "1.2.643.7.1.2.1.1.3",
    "id-tc26-gost-3410-2012-256-paramSetD": "1.2.643.7.1.2.1.1.4",
}
OPENSSL_3 = 0x30000000

# Known answers for the self-test: GOST R 34.11-2012 example 1 (as OpenSSL prints it), and a key and
# signature made by `openssl dgst -engine gost -streebog256 -sign` (also in tests/gost_jws).
_STREEBOG_MESSAGE = b"012345678901234567890123456789012345678901234567890123456789012"
_STREEBOG_DIGEST = bytes.fromhex("9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500")
_SIGNED_BY = (
    "id-tc26-gost-3410-2012-256-paramSetB",
    0xA5B427AE9F3F5F2E0E0F6FD6E5075BB81935E981A74AF31B33ABB3B04718ABC2,
    0x8167E98096878CADEE32899E51B93F77A30B64CB1060005EE4BCDFD9B541D397,
)
_SIGNED_MESSAGE = b"hello esia"
_SIGNATURE = bytes.fromhex(
    "4e3234639214f7e03158bfebba1a70d14d16f3babae564548ebdbc3c0a1ac031"
    "601187ba0e75d0753775176320cf0a004cfb98b651738d79d638b73647a4729b"
)


class EngineUnavailable(RuntimeError):
    """libcrypto 3 or its gost engine cannot be loaded here, or failed its self-test."""


class EngineError(RuntimeError):
    """OpenSSL refused an operation that should have worked."""


def _declare(lib: ctypes.CDLL) -> None:
    signatures: dict[str, tuple[list[type], type | None]] = {
        "OpenSSL_version_num": ([], c_ulong),
        "ERR_clear_error": ([], None),
        "ENGINE_by_id": ([c_char_p], c_void_p),
        "ENGINE_init": ([c_void_p], c_int),
        "ENGINE_free": ([c_void_p], c_int),
        "ENGINE_register_pkey_asn1_meths": ([c_void_p], c_int),
        "ENGINE_get_digest": ([c_void_p, c_int], c_void_p),
        "OBJ_sn2nid": ([c_char_p], c_int),
        "EVP_Digest": ([c_char_p, c_size_t, c_char_p, POINTER(c_uint), c_void_p, c_void_p], c_int),
        "d2i_AutoPrivateKey": ([c_void_p, POINTER(c_void_p), c_long], c_void_p),
        "d2i_PUBKEY": ([c_void_p, POINTER(c_void_p), c_long], c_void_p),
        "EVP_PKEY_free": ([c_void_p], None),
        "EVP_MD_CTX_new": ([], c_void_p),
        "EVP_MD_CTX_free": ([c_void_p], None),
        "EVP_DigestSignInit": ([c_void_p, c_void_p, c_void_p, c_void_p, c_void_p], c_int),
        "EVP_DigestSign": ([c_void_p, c_char_p, POINTER(c_size_t), c_char_p, c_size_t], c_int),
        "EVP_DigestVerifyInit": ([c_void_p, c_void_p, c_void_p, c_void_p, c_void_p], c_int),
        "EVP_DigestVerify": ([c_void_p, c_char_p, c_size_t, c_char_p, c_size_t], c_int),
    }
    for name, (arguments, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = arguments, result


def _libcrypto() -> ctypes.CDLL:
    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise EngineUnavailable("libcrypto (OpenSSL 3) was not found")


class _Handle:
    """An ``EVP_PKEY`` owned by one Python object, freed with it (not at exit: the process frees all)."""

    def __init__(self, backend: OpenSslGost, pointer: int) -> None:
        self._backend, self._pointer = backend, pointer
        weakref.finalize(self, backend.lib.EVP_PKEY_free, pointer).atexit = False

    def __copy__(self) -> Self:
        # A copy owning the same pointer would free it twice; the handle is immutable, so share it.
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


class OpenSslSigningKey(_Handle):
    def sign(self, message: bytes) -> bytes:
        lib = self._backend.lib
        context = lib.EVP_MD_CTX_new()
        try:
            signature, size = ctypes.create_string_buffer(2 * SIZE), c_size_t(2 * SIZE)
            if (
                lib.EVP_DigestSignInit(context, None, self._backend.digest, None, self._pointer) != 1
                or lib.EVP_DigestSign(context, signature, byref(size), message, len(message)) != 1
                or size.value != 2 * SIZE
            ):
                raise EngineError("OpenSSL could not sign")
            return signature.raw
        finally:
            lib.EVP_MD_CTX_free(context)
            lib.ERR_clear_error()


class OpenSslVerifyingKey(_Handle):
    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * SIZE:
            return False
        lib = self._backend.lib
        context = lib.EVP_MD_CTX_new()
        try:
            if lib.EVP_DigestVerifyInit(context, None, self._backend.digest, None, self._pointer) != 1:
                raise EngineError("OpenSSL could not start a verification")
            return bool(lib.EVP_DigestVerify(context, signature, len(signature), message, len(message)) == 1)
        finally:
            lib.EVP_MD_CTX_free(context)
            # A failed verification leaves errors on this thread's queue, where Python's ssl would read them.
            lib.ERR_clear_error()


class OpenSslGost:
    """libcrypto with the gost engine loaded: Streebog-256, and GOST keys that sign and verify."""

    name = "openssl-gost-engine"

    def __init__(self, lib: ctypes.CDLL, engine: int, digest: int) -> None:
        self.lib, self.engine, self.digest = lib, engine, digest

    @classmethod
    def load(cls) -> OpenSslGost:
        """Load and self-test the engine; ``EngineUnavailable`` says why it cannot be used."""
        lib = _libcrypto()
        try:
            _declare(lib)
        except AttributeError as error:
            raise EngineUnavailable(f"libcrypto lacks {error}") from None
        version = lib.OpenSSL_version_num()
        if version < OPENSSL_3:
            raise EngineUnavailable(f"libcrypto is {version:#x}, not OpenSSL 3")
        engine = lib.ENGINE_by_id(ENGINE_ID)
        try:
            if not engine:
                raise EngineUnavailable("OpenSSL has no gost engine (Debian: libengine-gost-openssl)")
            if lib.ENGINE_init(engine) != 1:
                lib.ENGINE_free(engine)
                raise EngineUnavailable("the gost engine did not initialise")
            # Its functional reference is kept for the life of the process; the structural one goes.
            lib.ENGINE_free(engine)
            if lib.ENGINE_register_pkey_asn1_meths(engine) != 1:
                raise EngineUnavailable("the gost engine's key methods could not be registered")
            digest = lib.ENGINE_get_digest(engine, lib.OBJ_sn2nid(DIGEST_NAME))
            if not digest:
                raise EngineUnavailable("the gost engine has no md_gost12_256")
        finally:
            lib.ERR_clear_error()
        backend = cls(lib, engine, digest)
        backend._self_test()
        return backend

    def _self_test(self) -> None:
        try:
            digest_ok = self.streebog256(_STREEBOG_MESSAGE) == _STREEBOG_DIGEST
            verifier = self.verifying_key(*_SIGNED_BY)
            signature_ok = verifier.verify(_SIGNED_MESSAGE, _SIGNATURE)
            forgery_refused = not verifier.verify(_SIGNED_MESSAGE + b"!", _SIGNATURE)
        except EngineError as error:
            raise EngineUnavailable(f"the gost engine failed its self-test: {error}") from None
        if not (digest_ok and signature_ok and forgery_refused):
            raise EngineUnavailable("the gost engine failed its self-test")

    def streebog256(self, data: bytes) -> bytes:
        out, size = ctypes.create_string_buffer(SIZE), c_uint(SIZE)
        try:
            if self.lib.EVP_Digest(data, len(data), out, byref(size), self.digest, None) != 1 or size.value != SIZE:
                raise EngineError("OpenSSL could not compute Streebog-256")
        finally:
            self.lib.ERR_clear_error()
        return out.raw

    def signing_key(self, curve: str, d: int) -> OpenSslSigningKey:
        return OpenSslSigningKey(self, self._decode(self.lib.d2i_AutoPrivateKey, private_key_der(curve, d)))

    def verifying_key(self, curve: str, x: int, y: int) -> OpenSslVerifyingKey:
        return OpenSslVerifyingKey(self, self._decode(self.lib.d2i_PUBKEY, public_key_der(curve, x, y)))

    def _decode(self, decoder: Callable[..., int | None], der: bytes) -> int:
        buffer = ctypes.create_string_buffer(der, len(der))
        cursor = c_void_p(ctypes.addressof(buffer))
        try:
            pointer = decoder(None, byref(cursor), len(der))
        finally:
            self.lib.ERR_clear_error()
        if not pointer:
            raise EngineError("OpenSSL refused the key")
        return int(pointer)


def private_key_der(curve: str, d: int) -> bytes:
    """PKCS#8 PrivateKeyInfo as the gost engine writes it (``openssl pkey`` reads it as DER)."""
    return _sequence(_der(0x02, b"\x00"), _algorithm(curve), _der(0x04, d.to_bytes(SIZE, "little")))


def public_key_der(curve: str, x: int, y: int) -> bytes:
    """SubjectPublicKeyInfo as the gost engine writes it."""
    point = _der(0x04, x.to_bytes(SIZE, "little") + y.to_bytes(SIZE, "little"))
    return _sequence(_algorithm(curve), _der(0x03, b"\x00" + point))


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _sequence(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _algorithm(curve: str) -> bytes:
    if curve not in CURVE_OIDS:
        raise EngineError(f"no OID for curve {curve!r}")
    return _sequence(_oid(ALGORITHM_OID), _sequence(_oid(CURVE_OIDS[curve])))
