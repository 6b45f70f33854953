"""`bridge keys rewrap`, `bridge keys new-kek`, and the key-encryption key in `bridge keys list`."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.op.keys import KeyStore
from bridge.services.key_encryption import KeyEncryptionKey, Keyring
from bridge.services.signing_keys import SigningKeyPolicy
from bridge.storage.models import AuditEvent, SigningKey


def test_rewrap_moves_every_key_to_the_new_kek_in_one_command(
    bridge_cli: Any, db_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", old.to_base64())
    before = KeyStore(db_factory, SigningKeyPolicy(Keyring([old])))
    token = jwt.encode({"alg": "RS256"}, {"sub": "s"}, before.signing_key("RS256"), algorithms=["RS256"])
    code, out, _ = bridge_cli("--json", "keys", "list")
    listing = json.loads(out)
    assert code == 0 and {(key["kek_id"], key["kek_configured"]) for key in listing["keys"]} == {(old.id, True)}
    assert listing["key_encryption_keys"] == [{"id": old.id, "primary": True}] and not listing["development_kek"]

    # The new KEK goes first, the old one stays until the keys are re-wrapped.
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", f"{new.to_base64()},{old.to_base64()}")
    code, out, _ = bridge_cli("--json", "keys", "rewrap", "--to-kek", new.id)
    assert code == 0
    result = json.loads(out)
    assert len(result["rewrapped"]) == 2 and result["unchanged"] == [] and result["primary"] is True
    with db_factory() as db:
        assert {key.kek_id for key in db.scalars(select(SigningKey))} == {new.id}
        audited = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.keys.rewrapped")).one()
    assert audited.details == {"kek_id": new.id, "rewrapped": 2, "unchanged": 0}

    # The old KEK can go: the same keys sign, and what they signed before still verifies.
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", new.to_base64())
    code, out, _ = bridge_cli("keys", "list")
    assert code == 0 and f"KEK {new.id}" in out and f"{new.id} (основной)" in out and "не настроен" not in out
    after = KeyStore(db_factory, SigningKeyPolicy(Keyring([new])))
    assert jwt.decode(token, after.verification_keys(), algorithms=["RS256"]).claims["sub"] == "s"
    assert after.signing_key("RS256").keys[0].kid == before.signing_key("RS256").keys[0].kid


def test_keys_list_names_a_kek_that_is_missing(bridge_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lost = KeyEncryptionKey.generate()
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", lost.to_base64())
    bridge_cli("keys", "rotate")
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", KeyEncryptionKey.generate().to_base64())
    code, out, _ = bridge_cli("keys", "list")
    assert code == 0 and f"KEK {lost.id} (не настроен)" in out


def test_rewrap_to_a_kek_that_is_not_configured_is_refused(
    bridge_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", KeyEncryptionKey.generate().to_base64())
    code, out, _ = bridge_cli("--json", "keys", "rewrap", "--to-kek", "00000000")
    assert code == 1 and json.loads(out)["error"] == "unknown_kek"


def test_rewrap_warns_when_new_keys_would_still_go_under_another_kek(
    bridge_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    monkeypatch.setenv("BRIDGE_KEY_ENCRYPTION_KEY", f"{first.to_base64()},{second.to_base64()}")
    bridge_cli("keys", "rotate")
    code, out, _ = bridge_cli("keys", "rewrap", "--to-kek", second.id)
    assert code == 0 and f"поставьте {second.id} первым" in out


def test_production_without_a_kek_is_refused_in_one_line(bridge_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_ENV", "production")
    monkeypatch.delenv("BRIDGE_KEY_ENCRYPTION_KEY", raising=False)
    code, out, err = bridge_cli("keys", "list")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "BRIDGE_KEY_ENCRYPTION_KEY is not set" in err


def test_new_kek_prints_a_usable_key_and_its_id(bridge_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_ENV", "production")  # needs no KEK: it is how the first one is made
    code, out, _ = bridge_cli("--json", "keys", "new-kek")
    made = json.loads(out)
    assert code == 0 and len(base64.b64decode(made["key_encryption_key"])) == 32
    assert KeyEncryptionKey.from_base64(made["key_encryption_key"]).id == made["kek_id"]
