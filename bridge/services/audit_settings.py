"""How the audit trail is anchored and how long it is kept (`BRIDGE_AUDIT_*`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.config import SettingsError
from bridge.services.key_encryption import Keyring

# Where a session finds these settings: its `info`, filled from its sessionmaker.
SESSION_INFO_KEY = "bridge.audit_settings"
# …and the keyring that unwraps the signing key its anchors are signed with.
KEYRING_INFO_KEY = "bridge.audit_keyring"


class AuditSettingsError(SettingsError):
    """An audit setting that must not be started with."""


@dataclass(frozen=True)
class AuditSettings:
    # A signed anchor is written whenever the chain passes a multiple of this many records;
    # 0 writes none by itself (`bridge audit anchor` still does).
    anchor_every: int = 1000
    # Records older than this many days may be purged (`bridge audit purge`); None keeps them all.
    retention_days: int | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AuditSettings:
        defaults = cls()
        anchor_every = _whole_number(environ, "BRIDGE_AUDIT_ANCHOR_EVERY", minimum=0)
        retention_days = _whole_number(environ, "BRIDGE_AUDIT_RETENTION_DAYS", minimum=1)
        return cls(
            anchor_every=defaults.anchor_every if anchor_every is None else anchor_every,
            retention_days=retention_days,
        )


def configure_audit(
    factory: sessionmaker[Session], settings: AuditSettings, keyring: Keyring | None = None
) -> sessionmaker[Session]:
    """Every session of `factory` anchors and retains as `settings` say, signing with keys `keyring` unwraps."""
    info: dict[Any, Any] = dict(factory.kw.get("info") or {})
    info[SESSION_INFO_KEY] = settings
    if keyring is not None:
        info[KEYRING_INFO_KEY] = keyring
    factory.configure(info=info)
    return factory


def audit_settings_of(db: Session) -> AuditSettings:
    settings = db.info.get(SESSION_INFO_KEY)
    return settings if isinstance(settings, AuditSettings) else AuditSettings()


def anchor_keyring_of(db: Session) -> Keyring | None:
    keyring = db.info.get(KEYRING_INFO_KEY)
    return keyring if isinstance(keyring, Keyring) else None


def _whole_number(environ: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise AuditSettingsError(
            f"{name} должно быть целым числом не меньше {minimum} / must be a whole number ≥ {minimum}, "
            f"not {raw!r}"
        )
    return int(raw)
