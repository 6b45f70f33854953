"""The OpenID Provider's token-signing keys: technical support rotates them at the CLI.

A rotated key stops signing and stays published in JWKS for a while, so tokens it signed still verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support
from bridge.services import audit, signing_keys
from bridge.services.signing_keys import KeyState, key_state
from bridge.storage.database import transaction
from bridge.storage.models import SigningKey


@dataclass(frozen=True)
class SigningKeyView:
    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    published_until: datetime | None


def _support_only(principal: Principal) -> None:
    require_cli_support(
        principal, "Ключи подписи ведёт техническая поддержка: выполните команду без --acting-as."
    )


def _key(key: SigningKey) -> SigningKeyView:
    return SigningKeyView(
        kid=key.kid, alg=key.alg, state=key_state(key), created_at=key.created_at, retired_at=key.retired_at,
        published_until=key.published_until,
    )


def rotate_signing_keys(
    database: sessionmaker[Session], principal: Principal, algorithms: tuple[str, ...], *, keep_published: timedelta
) -> tuple[SigningKeyView, ...]:
    """A new signing key per algorithm; the old ones stay in JWKS for `keep_published`."""
    _support_only(principal)
    with transaction(database) as db:
        keys = [signing_keys.rotate_signing_key(db, alg, keep_published=keep_published) for alg in algorithms]
        for key in keys:
            audit.record(
                db, audit_context_of(principal), "oidc.keys.rotated", "success", kid=key.kid, alg=key.alg,
                keep_published_days=keep_published.days,
            )
        return tuple(_key(key) for key in keys)


def list_signing_keys(database: sessionmaker[Session], principal: Principal) -> tuple[SigningKeyView, ...]:
    _support_only(principal)
    with database() as db:
        return tuple(_key(key) for key in signing_keys.all_signing_keys(db))
