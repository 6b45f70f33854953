"""Key-encryption keys: wrapping, what refuses to unwrap, and how they are configured."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.config import SettingsError
from bridge.services.key_encryption import KeyEncryptionError, KeyEncryptionKey, Keyring, WrappedKey
from bridge.services.signing_key_settings import SigningKeySettings
from bridge.services.signing_keys import generate_private_jwk

JWK = {"kty": "EC", "crv": "P-256", "x": "x-value", "y": "y-value", "d": "private-d", "kid": "k1", "alg": "ES256"}


def test_a_wrapped_key_unwraps_only_as_the_key_it_was() -> None:
    keyring = Keyring([KeyEncryptionKey.generate()])
    wrapped = keyring.wrap(JWK, kid="k1", alg="ES256")
    assert "private-d" not in wrapped.blob and wrapped.kek_id == keyring.primary_id
    assert keyring.unwrap(wrapped, kid="k1", alg="ES256") == JWK
    # kid and alg are the associated data: a blob copied onto another row does not unwrap.
    for kid, alg in (("k2", "ES256"), ("k1", "RS256")):
        with pytest.raises(KeyEncryptionError):
            keyring.unwrap(wrapped, kid=kid, alg=alg)
    flipped = wrapped.blob[:-2] + ("A" if wrapped.blob[-2] != "A" else "B") + wrapped.blob[-1]
    with pytest.raises(KeyEncryptionError):
        keyring.unwrap(WrappedKey(wrapped.kek_id, flipped), kid="k1", alg="ES256")
    # Two wrappings of one key differ (a fresh nonce each time).
    assert keyring.wrap(JWK, kid="k1", alg="ES256").blob != wrapped.blob


def test_a_key_wrapped_under_an_unconfigured_kek_names_it_and_never_a_secret() -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    wrapped = Keyring([old]).wrap(JWK, kid="k1", alg="ES256")
    with pytest.raises(KeyEncryptionError) as refused:
        Keyring([new]).unwrap(wrapped, kid="k1", alg="ES256")
    assert old.id in refused.value.message and new.id in refused.value.message
    assert old.to_base64() not in refused.value.message and new.to_base64() not in refused.value.message
    # Configured beside the new one, the old key still unwraps; the first listed wraps.
    both = Keyring([new, old])
    assert both.unwrap(wrapped, kid="k1", alg="ES256") == JWK
    assert both.wrap(JWK, kid="k1", alg="ES256").kek_id == new.id


def test_the_kek_id_is_the_start_of_its_sha256_and_the_secret_stays_out_of_reprs() -> None:
    kek = KeyEncryptionKey.generate()
    assert kek.id == hashlib.sha256(kek.secret).hexdigest()[:8]
    assert kek.to_base64() not in repr(kek) and kek.to_base64() not in repr(Keyring([kek]))
    assert KeyEncryptionKey.from_base64(kek.to_base64()) == kek
    # URL-safe and unpadded spellings are the same key.
    assert KeyEncryptionKey.from_base64(base64.urlsafe_b64encode(kek.secret).decode().rstrip("=")) == kek


def test_real_keys_round_trip() -> None:
    keyring = Keyring([KeyEncryptionKey.generate()])
    for alg in ("ES256", "RS256"):
        jwk = generate_private_jwk(alg)
        assert keyring.unwrap(keyring.wrap(jwk, kid=str(jwk["kid"]), alg=alg), kid=str(jwk["kid"]), alg=alg) == jwk


# --- configuration ---------------------------------------------------------------------------------


def test_keks_come_from_the_environment_first_one_wrapping() -> None:
    first, second = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    settings = SigningKeySettings.from_environ(
        {"BRIDGE_KEY_ENCRYPTION_KEY": f"{first.to_base64()}, {second.to_base64()}"}
    )
    assert settings.key_encryption_keys == (first, second)
    keyring = settings.keyring(production=True, secret_key="irrelevant")
    assert keyring.ids == (first.id, second.id) and not keyring.development


def test_keks_come_from_a_mounted_file(tmp_path: Path) -> None:
    first, second = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    path = tmp_path / "kek"
    path.write_text(f"# new key first\n{first.to_base64()}\n\n# the old one, until `bridge keys rewrap`\n"
                    f"{second.to_base64()}\n")
    settings = SigningKeySettings.from_environ({"BRIDGE_KEY_ENCRYPTION_KEY_FILE": str(path)})
    assert settings.key_encryption_keys == (first, second)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"BRIDGE_KEY_ENCRYPTION_KEY": "not base64!"}, "BRIDGE_KEY_ENCRYPTION_KEY: key 1"),
        ({"BRIDGE_KEY_ENCRYPTION_KEY": base64.b64encode(b"too short").decode()}, "BRIDGE_KEY_ENCRYPTION_KEY: key 1"),
        ({"BRIDGE_KEY_ENCRYPTION_KEY": ","}, "BRIDGE_KEY_ENCRYPTION_KEY holds no key"),
        ({"BRIDGE_KEY_ENCRYPTION_KEY_FILE": "/nonexistent/kek"}, "BRIDGE_KEY_ENCRYPTION_KEY_FILE cannot be read"),
        ({"BRIDGE_KEY_ENCRYPTION_KEY": KeyEncryptionKey.generate().to_base64(),
          "BRIDGE_KEY_ENCRYPTION_KEY_FILE": "/run/secrets/kek"}, "not both"),
        ({"BRIDGE_SIGNING_KEY_ROTATION_DAYS": "-1"}, "BRIDGE_SIGNING_KEY_ROTATION_DAYS"),
    ],
)
def test_wrong_settings_stop_with_one_line_naming_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        SigningKeySettings.from_environ(environ)
    message = str(refused.value)
    assert named in message and "\n" not in message
    assert "too short" not in message and "not base64!" not in message


def test_production_refuses_to_start_without_a_kek() -> None:
    settings = SigningKeySettings.from_environ({})
    with pytest.raises(SettingsError) as refused:
        settings.check_startable(production=True)
    assert "BRIDGE_KEY_ENCRYPTION_KEY" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(SettingsError):
        settings.keyring(production=True, secret_key="x" * 40)


def test_development_derives_a_kek_from_the_secret_key_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bridge.keys"):
        keyring = SigningKeySettings().keyring(production=False, secret_key="secret-one")
    assert keyring.development
    assert any("BRIDGE_KEY_ENCRYPTION_KEY is not set" in record.message for record in caplog.records)
    # The same secret key gives the same KEK (every worker and the CLI agree); another does not.
    assert SigningKeySettings().keyring(production=False, secret_key="secret-one").ids == keyring.ids
    assert SigningKeySettings().keyring(production=False, secret_key="secret-two").ids != keyring.ids


def test_rotation_days() -> None:
    assert SigningKeySettings.from_environ({}).rotation_period == timedelta(days=90)
    assert SigningKeySettings.from_environ({"BRIDGE_SIGNING_KEY_ROTATION_DAYS": "30"}).rotation_period == timedelta(
        days=30
    )
    assert SigningKeySettings.from_environ({"BRIDGE_SIGNING_KEY_ROTATION_DAYS": "0"}).rotation_period is None
