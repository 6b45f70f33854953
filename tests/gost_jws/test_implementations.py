"""The GOST implementations agree: known answers from the standards, and each verifies what the others sign.

OpenSSL's gost engine (the bridge's choice), gostcrypto on GMP (the fallback) and gostcrypto as it
ships (the reference the project started from). On CI the engine must load: `.ci/run` installs it.
"""

from __future__ import annotations

import copy
import gc
import logging
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gostcrypto
import pytest
from gostcrypto.gostsignature.gost_34_10_2012 import GOST34102012

from gost_jws import GostPrivateKey, GostPublicKey
from gost_jws import backend as backend_module
from gost_jws.backend import GostBackend, gost_backend
from gost_jws.gmp_arithmetic import GmpSignature, GostcryptoBackend
from gost_jws.gost import CURVES
from gost_jws.openssl_engine import EngineUnavailable, OpenSslGost, private_key_der

from .test_gost import OPENSSL_MESSAGE, OPENSSL_SIGNATURE, OPENSSL_X, OPENSSL_Y

# RFC 6986 (GOST R 34.11-2012) examples, bytes as OpenSSL prints them; M2 is in CP1251.
STREEBOG_EXAMPLES = {
    b"012345678901234567890123456789012345678901234567890123456789012":
        "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500",
    "Се ветри, Стрибожи внуци, веютъ с моря стрелами на храбрыя плъкы Игоревы".encode("cp1251"):
        "9dd2fe4e90409e5da87f53976d7405b0c0cac628fc669a741d50063c557e8f50",
    b"": "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb",
}

# RFC 7091 section 7.1 (GOST R 34.10-2012, appendix A.1): the 256-bit test curve, key, digest and nonce.
RFC7091_CURVE = {
    "p": 0x8000000000000000000000000000000000000000000000000000000000000431,
    "a": 0x7,
    "b": 0x5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E,
    "m": 0x8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3,
    "q": 0x8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3,
    "x": 0x2,
    "y": 0x08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8,
}
RFC7091_D = 0x7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28
RFC7091_Q = (
    0x7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B,
    0x26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA,
)
RFC7091_E = 0x2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5
RFC7091_K = 0x77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3
RFC7091_R = 0x41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493
RFC7091_S = 0x01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40


def _bytes(value: int) -> bytearray:
    return bytearray(value.to_bytes(32, "big"))


@pytest.fixture(scope="module")
def engine() -> OpenSslGost:
    try:
        return OpenSslGost.load()
    except EngineUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs libengine-gost-openssl, yet: {error}")
        pytest.skip(f"OpenSSL's gost engine: {error}")


@pytest.fixture(scope="module")
def gmp() -> GostcryptoBackend:
    return GostcryptoBackend()


@pytest.fixture(scope="module")
def pure() -> GostcryptoBackend:
    return GostcryptoBackend(GOST34102012, "gostcrypto")


@pytest.fixture(scope="module", params=["engine", "gmp", "pure"])
def implementation(request: pytest.FixtureRequest) -> GostBackend:
    backend: GostBackend = request.getfixturevalue(request.param)
    return backend


@pytest.fixture(scope="module", params=CURVES)
def curve_key(request: pytest.FixtureRequest) -> GostPrivateKey:
    return GostPrivateKey.generate(request.param)


@pytest.mark.parametrize("message", list(STREEBOG_EXAMPLES))
def test_streebog_matches_rfc_6986(implementation: GostBackend, message: bytes) -> None:
    assert implementation.streebog256(message).hex() == STREEBOG_EXAMPLES[message]


@pytest.mark.parametrize("signature_class", [GOST34102012, GmpSignature])
def test_rfc_7091_example(signature_class: type[GOST34102012]) -> None:
    standard = signature_class(gostcrypto.gostsignature.MODE_256, RFC7091_CURVE)
    public = bytes(standard.public_key_generate(_bytes(RFC7091_D)))
    assert public == RFC7091_Q[0].to_bytes(32, "big") + RFC7091_Q[1].to_bytes(32, "big")
    signature = bytes(standard.sign(_bytes(RFC7091_D), _bytes(RFC7091_E), _bytes(RFC7091_K)))
    assert signature == RFC7091_R.to_bytes(32, "big") + RFC7091_S.to_bytes(32, "big")
    assert standard.verify(bytearray(public), _bytes(RFC7091_E), bytearray(signature))
    assert not standard.verify(bytearray(public), _bytes(RFC7091_E + 1), bytearray(signature))


def test_every_implementation_verifies_the_openssl_command_signature(implementation: GostBackend) -> None:
    verifier = implementation.verifying_key("id-tc26-gost-3410-2012-256-paramSetB", OPENSSL_X, OPENSSL_Y)
    assert verifier.verify(OPENSSL_MESSAGE, OPENSSL_SIGNATURE)
    assert not verifier.verify(OPENSSL_MESSAGE + b".", OPENSSL_SIGNATURE)


@pytest.mark.parametrize(("signer", "verifier"), [("engine", "pure"), ("engine", "gmp"), ("gmp", "engine"),
                                                  ("pure", "engine"), ("gmp", "pure")])
def test_each_verifies_what_the_other_signs(
    request: pytest.FixtureRequest, curve_key: GostPrivateKey, signer: str, verifier: str
) -> None:
    signing: GostBackend = request.getfixturevalue(signer)
    checking: GostBackend = request.getfixturevalue(verifier)
    public = curve_key.public_key
    message = "client_id" + "openid fullname" + "2026.11.02 10:15:00 +0300" + "Подпись"
    signature = signing.signing_key(curve_key.curve, curve_key.d).sign(message.encode())
    check = checking.verifying_key(public.curve, public.x, public.y)
    assert check.verify(message.encode(), signature)
    assert not check.verify(message.encode() + b" ", signature)
    assert not check.verify(message.encode(), signature[::-1])


def test_malformed_signatures_are_refused_not_raised(engine: OpenSslGost, gmp: GostcryptoBackend) -> None:
    key = GostPrivateKey.from_secret(0x19FC9F5B2967DCD26BA8E8FAB7335F8016DF95E8AA562E1C2AECF5DD98E20CDB)
    q = GostcryptoBackend().engine(key.curve)._q
    good = key.sign(b"m")
    s, r = good[:32], good[32:]
    malformed = [
        bytes(64),
        s + bytes(32),
        bytes(32) + r,
        q.to_bytes(32, "big") + r,
        s + q.to_bytes(32, "big"),
        b"\xff" * 64,
        good[:63],
        good + b"\x00",
    ]
    for backend in (engine, gmp):
        verifier = backend.verifying_key(key.curve, key.public_key.x, key.public_key.y)
        assert verifier.verify(b"m", good)
        assert not any(verifier.verify(b"m", signature) for signature in malformed), backend.name


def test_the_engine_signs_from_many_threads_at_once(engine: OpenSslGost) -> None:
    key = GostPrivateKey.generate()
    signer = engine.signing_key(key.curve, key.d)
    verifier = engine.verifying_key(key.curve, key.public_key.x, key.public_key.y)
    messages = [f"message {n}".encode() for n in range(400)]
    with ThreadPoolExecutor(8) as pool:
        signatures = list(pool.map(signer.sign, messages))
        assert all(pool.map(verifier.verify, messages, signatures))
    assert all(key.public_key.verify(m, s) for m, s in zip(messages[:5], signatures[:5], strict=True))


def test_a_copied_key_outlives_the_original(engine: OpenSslGost) -> None:
    key = GostPrivateKey.generate()
    key.public_key.verify(b"m", key.sign(b"m"))  # both native handles exist now
    clones = copy.copy(key), copy.deepcopy(key)
    del key
    gc.collect()
    for clone in clones:
        assert clone.public_key.verify(b"m", clone.sign(b"m"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_the_openssl_command_reads_our_key_encoding(engine: OpenSslGost, tmp_path: Path) -> None:
    key = GostPrivateKey.generate("id-tc26-gost-3410-2012-256-paramSetA")
    (tmp_path / "key.der").write_bytes(private_key_der(key.curve, key.d))
    done = subprocess.run(
        ["openssl", "dgst", "-engine", "gost", "-md_gost12_256", "-keyform", "DER", "-sign", str(tmp_path / "key.der")],
        input=b"hello esia", capture_output=True, check=True,
    )
    assert key.public_key.verify(b"hello esia", done.stdout)


def test_keys_use_the_engine_when_it_loads(engine: OpenSslGost) -> None:
    assert gost_backend().name == engine.name
    key = GostPrivateKey.generate()
    assert type(key._signing_key).__module__ == "gost_jws.openssl_engine"
    assert type(GostPublicKey(key.public_key.x, key.public_key.y)._verifying_key).__module__ == (
        "gost_jws.openssl_engine"
    )


def test_a_missing_engine_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> OpenSslGost:
        raise EngineUnavailable("OpenSSL has no gost engine")

    monkeypatch.setattr(OpenSslGost, "load", missing)
    backend_module._choose.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="gost_jws"):
            chosen = [gost_backend() for _ in range(3)]
            key = GostPrivateKey.generate()
            assert key.public_key.verify(b"m", key.sign(b"m"))
        assert all(isinstance(backend, GostcryptoBackend) for backend in chosen)
        warnings = [record for record in caplog.records if record.name == "gost_jws"]
        assert len(warnings) == 1
        assert "libengine-gost-openssl" in warnings[0].getMessage()
    finally:
        backend_module._choose.cache_clear()
