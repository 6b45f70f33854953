"""How the bridge reaches its SMTP server (`BRIDGE_SMTP_*`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from starlette.datastructures import Secret


class SmtpSecurity(StrEnum):
    """How the connection is protected: none (loopback sinks only), STARTTLS, or implicit TLS."""

    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class MailSettingsError(ValueError):
    """A mail setting that must not be started with."""


@dataclass(frozen=True)
class MailSettings:
    """No host means no mail server: messages are still queued, and wait until one is configured."""

    host: str | None = None
    port: int = 587
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    user: str | None = None
    password: Secret | None = None
    sender: str = "Мост идентификации <no-reply@bridge.invalid>"
    timeout_seconds: float = 10.0
    # How often the dispatcher looks for due messages when nothing woke it.
    poll_interval: timedelta = timedelta(seconds=30)
    # After this many failed attempts a message is given up (status failed, visible to operators).
    max_attempts: int = 8

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> MailSettings:
        """From `BRIDGE_SMTP_*` variables (the bridge's Settings reads them through its own lookup)."""

        def get(name: str) -> str | None:
            value = environ.get(f"BRIDGE_SMTP_{name}")
            return value if value not in (None, "") else None

        return cls.read(get)

    @classmethod
    def read(cls, get: Callable[[str], str | None]) -> MailSettings:
        """`get("HOST")` answers BRIDGE_SMTP_HOST (None when unset or empty)."""
        defaults = cls()
        raw_security = (get("SECURITY") or defaults.security.value).lower()
        try:
            security = SmtpSecurity(raw_security)
        except ValueError:
            raise MailSettingsError(
                f"BRIDGE_SMTP_SECURITY must be none, starttls or tls, not {raw_security!r}"
            ) from None
        raw_port = get("PORT")
        if raw_port is None:
            port = 465 if security is SmtpSecurity.TLS else 25 if security is SmtpSecurity.NONE else 587
        elif raw_port.isdigit() and 0 < int(raw_port) < 65536:
            port = int(raw_port)
        else:
            raise MailSettingsError(f"BRIDGE_SMTP_PORT must be a port number, not {raw_port!r}")
        password = get("PASSWORD")
        user = get("USER")
        if (user is None) != (password is None):
            raise MailSettingsError("BRIDGE_SMTP_USER and BRIDGE_SMTP_PASSWORD are set together or not at all.")
        return cls(
            host=get("HOST"),
            port=port,
            security=security,
            user=user,
            password=Secret(password) if password is not None else None,
            sender=get("SENDER") or defaults.sender,
        )
