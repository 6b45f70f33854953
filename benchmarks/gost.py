"""GOST CPU per ESIA sign-in: each implementation measured in one run, same key, same messages.

An ESIA sign-in costs the bridge two GOST R 34.10-2012 signatures (the client_secret of v2/ac and of
v3/te, ~200-byte messages) and one verification (ESIA's id_token, ~1 KB of header.payload), each over
Streebog-256. Candidates:

- gostcrypto as it is (pure Python): what ran before issue 12;
- gostcrypto with CPython's C modular inverse ``pow(x, -1, p)`` in place of its recursive Euclid;
- gostcrypto with gmpy2's arithmetic in the point addition: ``gost_jws``'s fallback;
- OpenSSL 3's gost engine through ctypes: ``gost_jws``'s choice when the engine loads;
- the ``openssl`` command with the engine, one process per operation: a reference, never a path.

Every signature is checked by another implementation before the figures are trusted. Prints CPU ms per
operation and per sign-in, and the ratio to pure Python. Figures, not assertions.

    .venv/bin/python benchmarks/gost.py [--seconds 1.0] [--curve id-tc26-gost-3410-2012-256-paramSetB]
"""

from __future__ import annotations

import argparse
import base64
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gostcrypto.gostsignature.gost_34_10_2012 import GOST34102012

from gost_jws import GostPrivateKey, encode_jwt
from gost_jws.backend import GostBackend
from gost_jws.gmp_arithmetic import GostcryptoBackend
from gost_jws.openssl_engine import EngineUnavailable, OpenSslGost, private_key_der, public_key_der

BUDGET_MS = 5.0


class PowInverseSignature(GOST34102012):  # type: ignore[misc]
    """gostcrypto with its modular inverse replaced by CPython's (C) ``pow(value, -1, modulus)``."""

    @staticmethod
    def _invert(value: int, n_mod: int) -> int:
        return pow(value, -1, n_mod)


@dataclass
class Figures:
    name: str
    sign_ms: float
    sign_token_ms: float
    verify_ms: float
    streebog_ms: float | None

    @property
    def signin_ms(self) -> float:
        return self.sign_ms + self.sign_token_ms + self.verify_ms


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_call_ms(operation: Callable[[], Any], seconds: float, clock: Callable[[], float] = time.thread_time) -> float:
    """CPU ms per call (this thread's by default): other work on the machine does not inflate it."""
    operation()  # warm: caches, lazy imports, the first EVP context
    calls, started, wall = 0, clock(), time.perf_counter()
    while True:
        operation()
        calls += 1
        if time.perf_counter() - wall >= seconds and calls >= 3:
            return (clock() - started) / calls * 1000


def messages(key: GostPrivateKey) -> tuple[bytes, bytes, bytes]:
    """The v2/ac and v3/te client_secret inputs and an id_token's signing input, ESIA-shaped."""
    client_id, scope, timestamp = "EDU-BRIDGE-77", "openid fullname snils email", "2026.11.02 10:15:00 +0300"
    redirect = "https://bridge.example.ru/login/callback/esia"
    start = f"{client_id}{scope}{timestamp}5b7f1d9e-3c1a-4e0f-9a7b-2d4c6e8f0a1b{redirect}".encode()
    code = "eyJ2ZXIiOjEsInR5cCI6IkpXVCIsInNidCI6ImF1dGhvcml6YXRpb25fY29kZSJ9.a1b2c3d4e5f6"
    token = f"{client_id}{scope}{timestamp}0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b{redirect}{code}".encode()
    claims = {
        "nbf": 1793600100, "iat": 1793600100, "exp": 1793603700, "auth_time": 1793600095,
        "iss": "http://esia.gosuslugi.ru/", "aud": client_id, "sub": 1000299654, "nonce": "9f" * 16,
        "amr": ["PWD"], "urn:esia:amd": "PWD", "urn:esia:sid": "c5f1e0a2-6b7d-4c3e-8f9a-0b1c2d3e4f5a",
        "urn:esia:sbj": {"urn:esia:sbj:typ": "P", "urn:esia:sbj:oid": 1000299654,
                         "urn:esia:sbj:nam": "OID.1000299654", "urn:esia:sbj:is_tru": True},
    }
    id_token = encode_jwt(claims, key, {"typ": "JWT", "ver": 1, "sbt": "id"})
    return start, token, id_token.rsplit(".", 1)[0].encode()


def measure(backend: GostBackend, key: GostPrivateKey, seconds: float) -> Figures:
    start, token, id_token_input = messages(key)
    public = key.public_key
    signer = backend.signing_key(key.curve, key.d)
    verifier = backend.verifying_key(public.curve, public.x, public.y)
    signature = signer.sign(id_token_input)
    if not (public.verify(id_token_input, signature) and verifier.verify(id_token_input, key.sign(id_token_input))):
        raise SystemExit(f"{backend.name}: signatures do not cross-verify")
    return Figures(
        backend.name,
        per_call_ms(lambda: signer.sign(start), seconds),
        per_call_ms(lambda: signer.sign(token), seconds),
        per_call_ms(lambda: verifier.verify(id_token_input, signature), seconds),
        per_call_ms(lambda: backend.streebog256(id_token_input), seconds),
    )


def measure_openssl_command(key: GostPrivateKey, seconds: float) -> Figures | None:
    """One ``openssl dgst -engine gost`` process per operation (its CPU): process start-up dominates."""
    command = shutil.which("openssl")
    if command is None:
        return None
    start, token, id_token_input = messages(key)
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        pem = base64.encodebytes(private_key_der(key.curve, key.d)).decode()
        (folder / "key.pem").write_text(f"-----BEGIN PRIVATE KEY-----\n{pem}-----END PRIVATE KEY-----\n")
        public = base64.encodebytes(public_key_der(key.curve, key.public_key.x, key.public_key.y)).decode()
        (folder / "pub.pem").write_text(f"-----BEGIN PUBLIC KEY-----\n{public}-----END PUBLIC KEY-----\n")
        base = [command, "dgst", "-engine", "gost", "-md_gost12_256"]

        def sign(message: bytes) -> bytes:
            done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [*base, "-sign", str(folder / "key.pem")], input=message, capture_output=True, check=True
            )
            return done.stdout

        try:
            signature = sign(id_token_input)
        except subprocess.CalledProcessError:
            print("openssl dgst -engine gost: not measured (the command has no gost engine)")
            return None
        if len(signature) != 64 or not key.public_key.verify(id_token_input, signature):
            return None
        (folder / "sig").write_bytes(signature)

        def verify() -> None:
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [*base, "-verify", str(folder / "pub.pem"), "-signature", str(folder / "sig")],
                input=id_token_input, capture_output=True, check=True,
            )

        return Figures(
            "openssl dgst -engine gost (a process per call)",
            per_call_ms(lambda: sign(start), seconds, children_cpu),
            per_call_ms(lambda: sign(token), seconds, children_cpu),
            per_call_ms(verify, seconds, children_cpu),
            None,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each figure")
    parser.add_argument("--curve", default="id-tc26-gost-3410-2012-256-paramSetB")
    args = parser.parse_args()

    key = GostPrivateKey.generate(args.curve)
    start, token, id_token_input = messages(key)
    print(f"curve {args.curve}; messages: v2/ac {len(start)} B, v3/te {len(token)} B, "
          f"id_token signing input {len(id_token_input)} B (CPU time)")
    backends: list[GostBackend] = [
        GostcryptoBackend(GOST34102012, "gostcrypto, pure Python (before)"),
        GostcryptoBackend(PowInverseSignature, "gostcrypto + pow(x, -1, p)"),
        GostcryptoBackend(),
    ]
    try:
        backends.append(OpenSslGost.load())
    except EngineUnavailable as error:
        print(f"OpenSSL gost engine: not measured ({error})")
    results = [measure(backend, key, args.seconds) for backend in backends]
    reference = measure_openssl_command(key, args.seconds)
    if reference is not None:
        results.append(reference)

    pure = results[0].signin_ms
    print()
    print(f"{'implementation':48} {'sign v2/ac':>10} {'sign v3/te':>10} {'verify':>8} {'sign-in':>9} "
          f"{'vs pure':>8} {'≤5 ms':>6} {'streebog':>9}")
    for row in results:
        streebog = f"{row.streebog_ms:9.3f}" if row.streebog_ms is not None else f"{'-':>9}"
        print(f"{row.name:48} {row.sign_ms:10.3f} {row.sign_token_ms:10.3f} {row.verify_ms:8.3f} "
              f"{row.signin_ms:9.3f} {pure / row.signin_ms:7.1f}× {'yes' if row.signin_ms <= BUDGET_MS else 'no':>6} "
              f"{streebog}")
    print("CPU ms per operation; sign-in = 2 signatures + 1 verification; streebog = hashing the id_token input alone")


if __name__ == "__main__":
    main()
