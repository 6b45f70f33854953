"""Settings, read once from the environment into one frozen value.

Every entry point (web app, CLI, tests) builds a `Settings` and passes it down;
nothing reads the environment later. The variables are looked up with Starlette's `Config`
(`BRIDGE_*` in the environment, then in the file `BRIDGE_ENV_FILE` names, if any); parsing and
validation are ours, so that a wrong value is named in one line. Secrets are Starlette's `Secret`:
hidden from reprs and logs, `str(secret)` only where the value is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.config import Config
from starlette.datastructures import Secret as Secret  # the type of every secret setting

from bridge.mail.settings import MailSettings, MailSettingsError
from bridge.observability.logs import LogFormat

if TYPE_CHECKING:
    from bridge.services.audit_settings import AuditSettings
    from bridge.services.housekeeping import HousekeepingSettings
    from bridge.services.logout_deliveries import BackchannelSettings
    from bridge.services.signing_key_settings import SigningKeySettings

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 - a known placeholder
ENV_PREFIX = "BRIDGE_"


class SettingsError(ValueError):
    """A configuration that must not be started with."""


@dataclass(frozen=True)
class OperatorSettings:
    """Who runs this bridge and how to reach its support: the footer of every page (BRIDGE_OPERATOR_*,
    BRIDGE_SUPPORT_*, BRIDGE_PRIVACY_NOTICE_*). Empty: not shown."""

    name: str = ""
    support_phone: str = ""
    support_email: str = ""
    support_url: str = ""
    # The privacy notice: a page of the operator's site, or a text the bridge shows at its own page.
    privacy_url: str = ""
    privacy_text: str = ""

    @property
    def has_support_contacts(self) -> bool:
        return bool(self.support_phone or self.support_email or self.support_url)


def _web_address(name: str, value: str | None) -> str:
    if not value:
        return ""
    if not value.startswith(("https://", "http://")) or any(ch.isspace() for ch in value):
        raise SettingsError(f"{ENV_PREFIX}{name} must be an absolute http(s) address, not {value!r}")
    return value


def _operator_settings(get: Callable[[str], str | None]) -> OperatorSettings:
    email = (get("SUPPORT_EMAIL") or "").strip()
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise SettingsError(f"{ENV_PREFIX}SUPPORT_EMAIL must be an e-mail address, not {email!r}")
    text_file = get("PRIVACY_NOTICE_FILE")
    try:
        text = Path(text_file).read_text(encoding="utf-8") if text_file else get("PRIVACY_NOTICE_TEXT") or ""
    except OSError as error:
        raise SettingsError(f"{ENV_PREFIX}PRIVACY_NOTICE_FILE cannot be read: {error.strerror}") from None
    return OperatorSettings(
        name=" ".join((get("OPERATOR_NAME") or "").split()),
        support_phone=(get("SUPPORT_PHONE") or "").strip(),
        support_email=email,
        support_url=_web_address("SUPPORT_URL", get("SUPPORT_URL")),
        privacy_url=_web_address("PRIVACY_NOTICE_URL", get("PRIVACY_NOTICE_URL")),
        privacy_text=text.strip(),
    )


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    secret_key: Secret = field(default_factory=lambda: Secret(DEVELOPMENT_SECRET_KEY))
    database_url: str = "sqlite:///./bridge.db"
    # Public URL of the bridge: the OpenID Provider issuer and the base of upstream redirect URIs.
    public_url: str = "http://127.0.0.1:8000"
    providers_file: Path | None = None
    credential_ttl: timedelta = timedelta(days=30)
    pending_binding_ttl: timedelta = timedelta(minutes=10)
    remember_me_ttl: timedelta = timedelta(days=30)
    # A sign-in session without "remember me" still has an absolute lifetime.
    session_ttl: timedelta = timedelta(hours=12)
    # A sign-in session unused for this long dies (a remembered one after the longer period).
    session_idle_timeout: timedelta = timedelta(minutes=60)
    remember_me_idle_timeout: timedelta = timedelta(days=7)
    # Password attempts (see bridge/services/throttle.py): per login from one address, per address,
    # both in a window; and the slower backoff of a login attacked from everywhere.
    login_throttle_max_failures: int = 5
    login_throttle_window: timedelta = timedelta(minutes=15)
    address_throttle_max_failures: int = 30
    login_backoff_after: int = 20
    login_backoff_max: timedelta = timedelta(minutes=15)
    login_backoff_memory: timedelta = timedelta(hours=24)
    # Reverse proxies whose X-Forwarded-For / Forwarded headers name the client (empty: none).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # The one header those proxies write: "x-forwarded-for" or "forwarded" (RFC 7239).
    proxy_header: str = "x-forwarded-for"
    require_confirmed_esia_account: bool = False
    require_name_match: bool = False
    signing_alg: str = "ES256"
    access_token_ttl: timedelta = timedelta(minutes=10)
    refresh_token_ttl: timedelta = timedelta(days=7)
    upstream_timeout_seconds: float = 10.0
    # The staff list's export and bulk import (bridge/application/staff_directory.py, staff_import.py).
    staff_export_max_rows: int = 50_000
    staff_import_max_bytes: int = 5 * 1024 * 1024
    staff_import_max_rows: int = 10_000
    # Outgoing mail (BRIDGE_SMTP_*); without a host, messages wait in the outbox.
    mail: MailSettings = field(default_factory=MailSettings)
    # The OP's signing keys at rest and their rotation (BRIDGE_KEY_ENCRYPTION_KEY*, …ROTATION_DAYS).
    signing_keys: SigningKeySettings = field(default_factory=lambda: _signing_key_settings({}))
    # The purge of expired rows (BRIDGE_PURGE_*).
    housekeeping: HousekeepingSettings = field(default_factory=lambda: _housekeeping_settings({}))
    # The audit trail's anchors and retention (BRIDGE_AUDIT_*).
    audit: AuditSettings = field(default_factory=lambda: _audit_settings({}))
    # Delivery of back-channel logout tokens to relying apps (BRIDGE_BACKCHANNEL_*).
    backchannel: BackchannelSettings = field(default_factory=lambda: _backchannel_settings({}))
    # The operator's name, support contacts and privacy notice in every page's footer.
    operator: OperatorSettings = field(default_factory=OperatorSettings)
    # One JSON object per log line, or the human format (BRIDGE_LOG_FORMAT).
    log_format: LogFormat = LogFormat.TEXT
    # Who may read /metrics: clients in these networks (after trusted proxies); loopback by default,
    # so a bridge on a public address does not publish its counters. Empty: nobody.
    metrics_networks: tuple[IPv4Network | IPv6Network, ...] = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
    # If set, /metrics also wants `Authorization: Bearer <token>` (a scraper outside the loopback).
    metrics_token: Secret | None = None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def check_startable(self) -> None:
        """Refuse configurations that would be unsafe to run for real."""
        if self.is_production and str(self.secret_key) == DEVELOPMENT_SECRET_KEY:
            raise SettingsError(
                "BRIDGE_SECRET_KEY is not set: production refuses to start with the development key. "
                "Set BRIDGE_SECRET_KEY to a long random value (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)."
            )
        if self.is_production and len(str(self.secret_key)) < 32:
            raise SettingsError("BRIDGE_SECRET_KEY is too short: use at least 32 characters.")
        if self.session_idle_timeout <= timedelta(0) or self.remember_me_idle_timeout <= timedelta(0):
            raise SettingsError("BRIDGE_SESSION_IDLE_MINUTES and BRIDGE_REMEMBER_ME_IDLE_DAYS must be positive.")
        if self.signing_alg not in ("ES256", "RS256"):
            raise SettingsError("BRIDGE_SIGNING_ALG must be ES256 or RS256.")
        if self.proxy_header not in ("x-forwarded-for", "forwarded"):
            raise SettingsError("BRIDGE_PROXY_HEADER must be x-forwarded-for or forwarded.")
        if min(self.login_throttle_max_failures, self.address_throttle_max_failures, self.login_backoff_after) < 1:
            raise SettingsError(
                "BRIDGE_LOGIN_MAX_FAILURES, BRIDGE_ADDRESS_MAX_FAILURES and BRIDGE_LOGIN_BACKOFF_AFTER "
                "must be at least 1."
            )
        if self.metrics_token is not None and len(str(self.metrics_token)) < 16:
            raise SettingsError("BRIDGE_METRICS_TOKEN is too short: use at least 16 random characters.")
        self.signing_keys.check_startable(production=self.is_production)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `BRIDGE_*` variables of `environ` (default: the process environment)."""
        config = _config(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value: str | None = config(name, default=None)
            # An empty value means "not set": the default applies.
            return value or None

        def flag(name: str, default: bool) -> bool:
            value = get(name)
            if value is None:
                return default
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{ENV_PREFIX}{name} must be true or false, not {value!r}")

        def number(name: str, default: int) -> int:
            value = get(name)
            if value is None:
                return default
            try:
                return int(value)
            except ValueError:
                raise SettingsError(f"{ENV_PREFIX}{name} must be a whole number, not {value!r}") from None

        def networks(
            name: str, default: tuple[IPv4Network | IPv6Network, ...] = ()
        ) -> tuple[IPv4Network | IPv6Network, ...]:
            value = config(name, default=None)
            if value is None:
                return default
            if value.strip().lower() in ("", "none"):
                return ()
            try:
                return tuple(ip_network(item.strip()) for item in value.split(",") if item.strip())
            except ValueError as error:
                raise SettingsError(
                    f"{ENV_PREFIX}{name} must be comma-separated addresses or CIDR networks: {error}"
                ) from None

        def choice(name: str, default: LogFormat) -> LogFormat:
            value = get(name)
            if value is None:
                return default
            try:
                return LogFormat(value.lower())
            except ValueError:
                allowed = " or ".join(item.value for item in LogFormat)
                raise SettingsError(f"{ENV_PREFIX}{name} must be {allowed}, not {value!r}") from None

        defaults = cls()
        providers_file = get("PROVIDERS_FILE")
        metrics_token = get("METRICS_TOKEN")
        return cls(
            environment=get("ENV") or defaults.environment,
            secret_key=Secret(get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY),
            database_url=get("DATABASE_URL") or defaults.database_url,
            public_url=(get("PUBLIC_URL") or defaults.public_url).rstrip("/"),
            providers_file=Path(providers_file) if providers_file else None,
            credential_ttl=timedelta(days=number("CREDENTIAL_TTL_DAYS", 30)),
            pending_binding_ttl=timedelta(minutes=number("PENDING_BINDING_TTL_MINUTES", 10)),
            remember_me_ttl=timedelta(days=number("REMEMBER_ME_DAYS", 30)),
            session_ttl=timedelta(hours=number("SESSION_TTL_HOURS", 12)),
            session_idle_timeout=timedelta(minutes=number("SESSION_IDLE_MINUTES", 60)),
            remember_me_idle_timeout=timedelta(days=number("REMEMBER_ME_IDLE_DAYS", 7)),
            login_throttle_max_failures=number("LOGIN_MAX_FAILURES", 5),
            login_throttle_window=timedelta(minutes=number("LOGIN_THROTTLE_MINUTES", 15)),
            address_throttle_max_failures=number("ADDRESS_MAX_FAILURES", 30),
            login_backoff_after=number("LOGIN_BACKOFF_AFTER", 20),
            login_backoff_max=timedelta(minutes=number("LOGIN_BACKOFF_MAX_MINUTES", 15)),
            login_backoff_memory=timedelta(hours=number("LOGIN_BACKOFF_MEMORY_HOURS", 24)),
            trusted_proxies=networks("TRUSTED_PROXIES"),
            proxy_header=(get("PROXY_HEADER") or defaults.proxy_header).lower(),
            require_confirmed_esia_account=flag("REQUIRE_CONFIRMED_ESIA", False),
            require_name_match=flag("REQUIRE_NAME_MATCH", False),
            signing_alg=get("SIGNING_ALG") or defaults.signing_alg,
            access_token_ttl=timedelta(minutes=number("ACCESS_TOKEN_MINUTES", 10)),
            refresh_token_ttl=timedelta(days=number("REFRESH_TOKEN_DAYS", 7)),
            upstream_timeout_seconds=float(number("UPSTREAM_TIMEOUT_SECONDS", 10)),
            staff_export_max_rows=number("STAFF_EXPORT_MAX_ROWS", defaults.staff_export_max_rows),
            staff_import_max_bytes=number("STAFF_IMPORT_MAX_BYTES", defaults.staff_import_max_bytes),
            staff_import_max_rows=number("STAFF_IMPORT_MAX_ROWS", defaults.staff_import_max_rows),
            mail=_mail_settings(lambda name: get(f"SMTP_{name}")),
            signing_keys=_signing_key_settings(_Prefixed(get)),
            housekeeping=_housekeeping_settings(_Prefixed(get)),
            audit=_audit_settings(_Prefixed(get)),
            backchannel=_backchannel_settings(_Prefixed(get)),
            operator=_operator_settings(get),
            log_format=choice("LOG_FORMAT", defaults.log_format),
            metrics_networks=networks("METRICS_NETWORKS", defaults.metrics_networks),
            metrics_token=Secret(metrics_token) if metrics_token else None,
        )


class _Prefixed(Mapping[str, str]):
    """`BRIDGE_NAME` → the settings lookup of `NAME`, for parts that read a mapping of variables."""

    def __init__(self, get: Callable[[str], str | None]) -> None:
        self._get = get

    def __getitem__(self, key: str) -> str:
        value = self._get(key.removeprefix(ENV_PREFIX)) if key.startswith(ENV_PREFIX) else None
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# The key and housekeeping settings live beside the services they configure, which import this
# module: they are imported when first needed, not at import time (no import cycle).


def _signing_key_settings(environ: Mapping[str, str]) -> SigningKeySettings:
    from bridge.services.signing_key_settings import SigningKeySettings

    return SigningKeySettings.from_environ(environ)


def _housekeeping_settings(environ: Mapping[str, str]) -> HousekeepingSettings:
    from bridge.services.housekeeping import HousekeepingSettings

    return HousekeepingSettings.from_environ(environ)


def _audit_settings(environ: Mapping[str, str]) -> AuditSettings:
    from bridge.services.audit_settings import AuditSettings

    return AuditSettings.from_environ(environ)


def _backchannel_settings(environ: Mapping[str, str]) -> BackchannelSettings:
    from bridge.services.logout_deliveries import BackchannelSettings

    return BackchannelSettings.from_environ(environ)


def _mail_settings(get: Callable[[str], str | None]) -> MailSettings:
    try:
        return MailSettings.read(get)
    except MailSettingsError as error:
        raise SettingsError(str(error)) from None


def _config(environ: Mapping[str, str]) -> Config:
    """The environment, over the optional file of `BRIDGE_*=value` lines named by BRIDGE_ENV_FILE."""
    # Empty variables are dropped, so that an empty one does not hide the file's value.
    present = {name: value for name, value in environ.items() if value != ""}
    env_file = present.get(f"{ENV_PREFIX}ENV_FILE")
    if env_file is not None and not Path(env_file).is_file():
        raise SettingsError(f"{ENV_PREFIX}ENV_FILE names no file: {env_file}")
    try:
        return Config(env_file, environ=present, env_prefix=ENV_PREFIX)
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{ENV_PREFIX}ENV_FILE cannot be read: {error.__class__.__name__}") from None
