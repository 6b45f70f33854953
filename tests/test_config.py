"""Settings come from BRIDGE_* variables; unsafe production settings refuse to start."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import starlette.datastructures

from bridge.app import create_app
from bridge.config import Settings, SettingsError


def test_production_with_the_development_key_refuses_to_start() -> None:
    settings = Settings.from_environ({"BRIDGE_ENV": "production"})
    with pytest.raises(SettingsError, match="BRIDGE_SECRET_KEY"):
        create_app(settings)


def test_production_with_a_short_key_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="too short"):
        Settings.from_environ({"BRIDGE_ENV": "production", "BRIDGE_SECRET_KEY": "short"}).check_startable()


def test_production_with_a_real_key_starts_and_hides_it() -> None:
    settings = Settings.from_environ({"BRIDGE_ENV": "production", "BRIDGE_SECRET_KEY": "k" * 48})
    settings.check_startable()
    assert "k" * 48 not in repr(settings)


def test_environment_values_are_read_once_into_settings() -> None:
    settings = Settings.from_environ(
        {
            "BRIDGE_DATABASE_URL": "postgresql://db/bridge",
            "BRIDGE_PUBLIC_URL": "https://id.example.ru/",
            "BRIDGE_CREDENTIAL_TTL_DAYS": "7",
            "BRIDGE_REQUIRE_CONFIRMED_ESIA": "yes",
        }
    )
    assert settings.database_url == "postgresql://db/bridge"
    assert settings.public_url == "https://id.example.ru"
    assert settings.secure_cookies
    assert settings.credential_ttl == timedelta(days=7)
    assert settings.require_confirmed_esia_account


@pytest.mark.parametrize(
    ("name", "value"), [("BRIDGE_CREDENTIAL_TTL_DAYS", "week"), ("BRIDGE_REQUIRE_NAME_MATCH", "maybe")]
)
def test_malformed_values_are_named_in_the_error(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value})


def test_trusted_proxies_are_networks_and_none_by_default() -> None:
    assert Settings.from_environ({}).trusted_proxies == ()
    settings = Settings.from_environ({"BRIDGE_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,"})
    assert [str(network) for network in settings.trusted_proxies] == ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]
    assert settings.proxy_header == "x-forwarded-for"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "10.0.0.1/8"])
def test_a_malformed_trusted_proxy_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match="BRIDGE_TRUSTED_PROXIES"):
        Settings.from_environ({"BRIDGE_TRUSTED_PROXIES": value})


def test_an_unknown_proxy_header_or_an_empty_budget_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="BRIDGE_PROXY_HEADER"):
        create_app(Settings.from_environ({"BRIDGE_PROXY_HEADER": "x-real-ip"}))
    with pytest.raises(SettingsError, match="at least 1"):
        create_app(Settings.from_environ({"BRIDGE_LOGIN_MAX_FAILURES": "0"}))


def test_the_secret_key_is_starlettes_secret_hidden_from_reprs() -> None:
    settings = Settings.from_environ({"BRIDGE_SECRET_KEY": "s" * 40})
    assert isinstance(settings.secret_key, starlette.datastructures.Secret)
    assert str(settings.secret_key) == "s" * 40 and "s" * 40 not in repr(settings.secret_key)


def test_an_env_file_supplies_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env_file = tmp_path / "bridge.env"
    env_file.write_text(
        "# the bridge\nBRIDGE_SECRET_KEY='" + "f" * 40 + "'\nBRIDGE_CREDENTIAL_TTL_DAYS=7\nBRIDGE_SIGNING_ALG=RS256\n"
    )
    settings = Settings.from_environ(
        {"BRIDGE_ENV_FILE": str(env_file), "BRIDGE_SIGNING_ALG": "ES256", "BRIDGE_CREDENTIAL_TTL_DAYS": ""}
    )
    assert str(settings.secret_key) == "f" * 40
    # An empty variable is unset, so the file's value applies; a set one wins over the file.
    assert settings.credential_ttl == timedelta(days=7)
    assert settings.signing_alg == "ES256"


def test_a_bad_value_in_the_env_file_is_named_like_one_in_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "bridge.env"
    env_file.write_text("BRIDGE_REQUIRE_NAME_MATCH=maybe\n")
    with pytest.raises(SettingsError, match="BRIDGE_REQUIRE_NAME_MATCH must be true or false, not 'maybe'"):
        Settings.from_environ({"BRIDGE_ENV_FILE": str(env_file)})


def test_a_missing_env_file_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BRIDGE_ENV_FILE names no file"):
        Settings.from_environ({"BRIDGE_ENV_FILE": str(tmp_path / "absent.env")})
