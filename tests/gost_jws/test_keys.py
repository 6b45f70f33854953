from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gost_jws import (
    GostKeyError,
    GostPrivateKey,
    GostPublicKey,
    RsaPrivateKey,
    RsaPublicKey,
    export_private,
    export_public,
    key_fingerprint,
    load_gost_key_file,
    load_signer,
    load_verifier,
    save_gost_key_file,
)


def test_gost_key_file_roundtrip(gost_key: GostPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    save_gost_key_file(gost_key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["kty"] == "GOST"
    assert data["crv"] == "id-tc26-gost-3410-2012-256-paramSetB"
    assert all(len(data[name]) == 64 for name in ("d", "x", "y"))
    assert load_gost_key_file(path) == gost_key

    public_path = tmp_path / "public.json"
    save_gost_key_file(gost_key.public_key, public_path)
    assert "d" not in json.loads(public_path.read_text())
    assert load_gost_key_file(public_path) == gost_key.public_key


def test_mismatched_public_half_is_refused(gost_key: GostPrivateKey, other_gost_key: GostPrivateKey) -> None:
    data = {**gost_key.to_json_dict(), "x": other_gost_key.to_json_dict()["x"]}
    with pytest.raises(GostKeyError):
        GostPrivateKey.from_json_dict(data)


def test_text_forms_load_by_kind(gost_key: GostPrivateKey, rsa_key: RsaPrivateKey) -> None:
    assert load_signer(export_private(gost_key)) == gost_key
    assert isinstance(load_verifier(export_public(gost_key)), GostPublicKey)
    assert load_verifier(export_private(gost_key)) == gost_key.public_key
    assert isinstance(load_signer(export_private(rsa_key)), RsaPrivateKey)
    rsa_public = load_verifier(export_public(rsa_key))
    assert isinstance(rsa_public, RsaPublicKey)
    assert rsa_public.verify(b"m", rsa_key.sign(b"m"))
    assert not rsa_public.verify(b"n", rsa_key.sign(b"m"))
    with pytest.raises(ValueError):
        load_signer(export_public(gost_key))


def test_fingerprint_is_the_same_for_both_halves(gost_key: GostPrivateKey, rsa_key: RsaPrivateKey) -> None:
    assert key_fingerprint(gost_key) == key_fingerprint(gost_key.public_key)
    assert len(key_fingerprint(gost_key)) == 64
    assert key_fingerprint(rsa_key) == key_fingerprint(rsa_key.verifier())
