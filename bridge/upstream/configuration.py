"""Reading the upstream providers from the configuration file (BRIDGE_PROVIDERS_FILE, TOML).

Providers are configured, not coded: each `[[provider]]` table names its kind — `esia` (the
Gosuslugi dialect) or `oidc` (any standard provider found by its issuer's discovery document).
Secrets may be given inline or, better, by the name of an environment variable (`*_env`).
Relative key paths are resolved against the file's folder. See docs/configuration.md.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.config import Secret, Settings, SettingsError
from bridge.upstream.base import UpstreamProvider
from bridge.upstream.oidc import DEFAULT_ALGORITHMS, OidcProvider
from bridge.upstream.registry import UpstreamRegistry


def load_upstream_registry(settings: Settings) -> UpstreamRegistry:
    if settings.providers_file is None:
        return UpstreamRegistry()
    return load_providers_file(settings.providers_file)


def load_providers_file(path: Path) -> UpstreamRegistry:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"cannot read the providers file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"the providers file {path} is not valid TOML: {error}") from None
    entries = document.get("provider", [])
    if not isinstance(entries, list):
        raise SettingsError(f"{path}: use [[provider]] tables")
    providers = [build_provider(entry, path.parent) for entry in entries]
    keys = [provider.key for provider in providers]
    if len(set(keys)) != len(keys):
        raise SettingsError(f"{path}: provider keys must be unique, got {keys}")
    return UpstreamRegistry.of(providers)


def build_provider(entry: Mapping[str, Any], base_dir: Path) -> UpstreamProvider:
    fields = _Fields(entry, base_dir)
    kind = fields.text("kind")
    if kind == "oidc":
        if "id_token_nonce" in entry:
            # PKCE and the nonce are standard for OpenID Providers: there is nothing to relax.
            raise SettingsError(f"provider {entry.get('key')!r}: `id_token_nonce` applies to kind 'esia' only")
        return OidcProvider(
            key=fields.key(),
            title=fields.text("title"),
            issuer=fields.text("issuer"),
            client_id=fields.text("client_id"),
            client_secret=fields.secret("client_secret"),
            auth_method=fields.choice("auth_method", ("client_secret_basic", "client_secret_post")),
            scope=fields.text("scope", "openid profile email"),
            algorithms=fields.algorithms(DEFAULT_ALGORITHMS),
            acr_values=fields.names("acr_values"),
        )
    if kind == "esia":
        from bridge.upstream.esia import build_esia_provider

        return build_esia_provider(fields)
    raise SettingsError(f"provider {entry.get('key')!r}: kind must be 'esia' or 'oidc', not {kind!r}")


class _Fields:
    """Typed access to one [[provider]] table with messages that name the field."""

    def __init__(self, entry: Mapping[str, Any], base_dir: Path) -> None:
        self.entry = entry
        self.base_dir = base_dir

    def key(self) -> str:
        key = self.text("key")
        if not key.replace("_", "").replace("-", "").isalnum() or not key.isascii():
            raise SettingsError(f"provider key {key!r}: use latin letters, digits, '-' and '_' only")
        return key

    def text(self, name: str, default: str | None = None) -> str:
        value = self.entry.get(name, default)
        if not isinstance(value, str) or not value:
            raise SettingsError(f"provider {self.entry.get('key')!r}: `{name}` is required (a string)")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, allowed[0])
        if value not in allowed:
            raise SettingsError(f"provider {self.entry.get('key')!r}: `{name}` must be one of {allowed}")
        return value

    def secret(self, name: str) -> Secret:
        env_name = self.entry.get(f"{name}_env")
        if isinstance(env_name, str):
            value = os.environ.get(env_name)
            if not value:
                raise SettingsError(
                    f"provider {self.entry.get('key')!r}: environment variable {env_name} is not set"
                )
            return Secret(value)
        return Secret(self.text(name))

    def path(self, name: str) -> Path:
        path = Path(self.text(name))
        path = path if path.is_absolute() else self.base_dir / path
        if not path.is_file():
            raise SettingsError(f"provider {self.entry.get('key')!r}: `{name}` file {path} does not exist")
        return path

    def names(self, name: str) -> tuple[str, ...]:
        """An optional list of non-empty strings; absent: empty."""
        value = self.entry.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise SettingsError(f"provider {self.entry.get('key')!r}: `{name}` is a list of non-empty strings")
        if any(" " in item for item in value):
            raise SettingsError(f"provider {self.entry.get('key')!r}: `{name}` values contain no spaces")
        return tuple(value)

    def algorithms(self, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.entry.get("id_token_algorithms", list(default))
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            raise SettingsError(f"provider {self.entry.get('key')!r}: `id_token_algorithms` is a list of names")
        forbidden = [item for item in value if item == "none" or item.startswith("HS")]
        if forbidden:
            raise SettingsError(
                f"provider {self.entry.get('key')!r}: algorithms {forbidden} are not allowed for id_tokens"
            )
        return tuple(value)
