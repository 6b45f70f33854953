"""The providers file: each kind builds its connector; mistakes are named, not tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import SettingsError
from bridge.upstream.configuration import load_providers_file
from bridge.upstream.esia import EsiaProvider
from bridge.upstream.oidc import OidcProvider
from gost_jws import GostPrivateKey, export_private, export_public, key_fingerprint

RSAA = """
[[provider]]
key = "rsaa"
kind = "oidc"
title = "РСАА"
issuer = "https://sso.region.test/realms/staff"
client_id = "edu-bridge"
client_secret_env = "TEST_RSAA_SECRET"
auth_method = "client_secret_post"
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "providers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_both_kinds_are_built_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client_key, provider_key = GostPrivateKey.generate(), GostPrivateKey.generate()
    (tmp_path / "client.json").write_text(export_private(client_key), encoding="utf-8")
    (tmp_path / "esia.json").write_text(export_public(provider_key), encoding="utf-8")
    monkeypatch.setenv("TEST_RSAA_SECRET", "from-the-environment")
    esia = """
[[provider]]
key = "esia"
kind = "esia"
title = "Госуслуги"
base_url = "https://esia-portal1.test.gosuslugi.ru"
issuer = "http://esia-portal1.test.gosuslugi.ru/"
client_id = "EDUBRIDGE"
client_key_file = "client.json"
provider_key_file = "esia.json"
"""
    registry = load_providers_file(write(tmp_path, esia + RSAA))

    gosuslugi, rsaa = registry.get("esia"), registry.get("rsaa")
    assert isinstance(gosuslugi, EsiaProvider) and isinstance(rsaa, OidcProvider)
    assert gosuslugi.certificate_hash == key_fingerprint(client_key).upper()
    assert str(rsaa.client_secret) == "from-the-environment"
    assert "from-the-environment" not in repr(rsaa)
    assert rsaa.auth_method == "client_secret_post"
    assert [provider.title for provider in registry] == ["Госуслуги", "РСАА"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RSAA.replace('kind = "oidc"', 'kind = "saml"'), "kind must be"),
        (RSAA + 'id_token_algorithms = ["HS256"]\n', "not allowed"),
        (RSAA + 'id_token_algorithms = ["none"]\n', "not allowed"),
        (RSAA.replace('client_id = "edu-bridge"\n', ""), "client_id"),
        (RSAA + RSAA, "unique"),
        (RSAA.replace('key = "rsaa"', 'key = "../rsaa"'), "latin letters"),
        ("[[provider]\nkey=", "not valid TOML"),
    ],
)
def test_mistakes_are_refused_with_their_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("TEST_RSAA_SECRET", "secret")
    with pytest.raises(SettingsError, match=message):
        load_providers_file(write(tmp_path, text))


def test_a_missing_secret_variable_or_key_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_RSAA_SECRET", raising=False)
    with pytest.raises(SettingsError, match="TEST_RSAA_SECRET"):
        load_providers_file(write(tmp_path, RSAA))
    esia = RSAA.replace('kind = "oidc"', 'kind = "esia"') + 'base_url = "https://e"\nclient_key_file = "none.json"\n'
    with pytest.raises(SettingsError, match=r"none\.json"):
        load_providers_file(write(tmp_path, esia))
    with pytest.raises(SettingsError, match="cannot read"):
        load_providers_file(tmp_path / "absent.toml")


ESIA = """
[[provider]]
key = "esia"
kind = "esia"
base_url = "https://esia-portal1.test.gosuslugi.ru"
issuer = "http://esia-portal1.test.gosuslugi.ru/"
client_id = "EDUBRIDGE"
client_key_file = "client.json"
provider_key_file = "esia.json"
"""


def esia_keys(folder: Path) -> None:
    (folder / "client.json").write_text(export_private(GostPrivateKey.generate()), encoding="utf-8")
    (folder / "esia.json").write_text(export_public(GostPrivateKey.generate()), encoding="utf-8")


def test_esia_requires_the_nonce_unless_the_entry_opts_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    esia_keys(tmp_path)
    with caplog.at_level("WARNING", logger="bridge.upstream"):
        default = load_providers_file(write(tmp_path, ESIA)).get("esia")
        explicit = load_providers_file(write(tmp_path, ESIA + 'id_token_nonce = "required"\n')).get("esia")
    assert isinstance(default, EsiaProvider) and default.require_nonce
    assert isinstance(explicit, EsiaProvider) and explicit.require_nonce
    assert caplog.records == []

    with caplog.at_level("WARNING", logger="bridge.upstream"):
        relaxed = load_providers_file(write(tmp_path, ESIA + 'id_token_nonce = "not_echoed"\n')).get("esia")
    assert isinstance(relaxed, EsiaProvider) and not relaxed.require_nonce
    [warning] = caplog.records
    assert warning.levelname == "WARNING"
    text = warning.getMessage()
    assert "'esia'" in text and "not_echoed" in text and "signed in as that person" in text
    assert "name/СНИЛС match" in text and "docs/security.md" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ESIA + 'id_token_nonce = "optional"\n', "id_token_nonce"),
        (ESIA + "id_token_nonce = false\n", "id_token_nonce"),
        (RSAA + 'id_token_nonce = "not_echoed"\n', "kind 'esia' only"),
        (RSAA + 'acr_values = "2"\n', "acr_values"),
        (RSAA + 'acr_values = ["2", ""]\n', "acr_values"),
        (RSAA + 'acr_values = ["loa 2"]\n', "no spaces"),
    ],
)
def test_nonce_and_acr_mistakes_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    esia_keys(tmp_path)
    monkeypatch.setenv("TEST_RSAA_SECRET", "secret")
    with pytest.raises(SettingsError, match=message):
        load_providers_file(write(tmp_path, text))


def test_acr_values_are_read_for_oidc_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_RSAA_SECRET", "secret")
    plain = load_providers_file(write(tmp_path, RSAA)).get("rsaa")
    strict = load_providers_file(write(tmp_path, RSAA + 'acr_values = ["2", "urn:rsaa:loa:3"]\n')).get("rsaa")
    assert isinstance(plain, OidcProvider) and plain.acr_values == ()
    assert isinstance(strict, OidcProvider) and strict.acr_values == ("2", "urn:rsaa:loa:3")
