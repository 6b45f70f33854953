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
    assert rsaa.client_secret.reveal() == "from-the-environment"
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
