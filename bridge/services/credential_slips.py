"""The credentials slip: an issued password shown once, on the page after the redirect, printable.

A form that issues a password (a registration, a first role, a reset) answers its POST with a
redirect, and the GET that follows shows the login, the password, its expiry and how to sign in,
once. Between the two the slip waits on the server as one flow step of the administrator's
browser (kind `credential_slip`, keyed by a random slip id, for `SLIP_TTL`), sealed with
AES-256-GCM under a key derived from the browser's id. The database keeps only that id's SHA-256,
so it holds no password it could show: only that browser can open the slip, once, within the TTL.
The GET takes the step with one DELETE … RETURNING: a refresh, a second tab or a copied URL find
nothing, and no request but the form's POST ever issues a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from bridge.services import flow_state
from bridge.services.credentials import IssuedCredential
from bridge.services.flow_state import FlowKind
from bridge.storage.types import utcnow

# Long enough to follow a redirect on a slow line, short enough to be gone if it is not followed.
SLIP_TTL = timedelta(minutes=5)
_PURPOSE = b"edu-id-bridge/credential-slip/v1"
_NONCE_BYTES = 12


class SlipOccasion(StrEnum):
    """What issued the password: the slip's heading, and where «Готово» leads."""

    REGISTERED = "registered"
    ROLE_ADDED = "role_added"
    RESET = "reset"


@dataclass(frozen=True)
class CredentialSlip:
    credential: IssuedCredential
    staff_id: int
    full_name: str
    occasion: SlipOccasion
    # What else the action did, said on the slip's page («Привязок удалено: 1 …»); may be empty.
    notice: str = ""
    # «Сохранить и закрыть»: after the slip, the list rather than the card.
    then_list: bool = False


def keep_slip(db: Session, browser_id: str, slip: CredentialSlip, now: datetime | None = None) -> str:
    """Park the slip for this browser; returns the slip id the redirect names."""
    slip_id = secrets.token_urlsafe(16)
    payload = {
        "login": slip.credential.login, "password": slip.credential.password,
        "expires_at": slip.credential.expires_at.isoformat(), "staff_id": slip.staff_id,
        "full_name": slip.full_name, "occasion": slip.occasion.value, "notice": slip.notice,
        "then_list": slip.then_list,
    }
    flow_state.park(
        db, browser_id, FlowKind.CREDENTIAL_SLIP, {"sealed": _seal(browser_id, slip_id, payload)},
        ttl=SLIP_TTL, key=slip_id, staff_id=slip.staff_id, now=now,
    )
    return slip_id


def take_slip(db: Session, browser_id: str, slip_id: str, now: datetime | None = None) -> CredentialSlip | None:
    """The slip, removed; None when it was taken already, expired, or is not this browser's."""
    payload = _take(db, browser_id, FlowKind.CREDENTIAL_SLIP, slip_id, now)
    if payload is None:
        return None
    return CredentialSlip(
        credential=IssuedCredential(
            login=payload["login"], password=payload["password"],
            expires_at=datetime.fromisoformat(payload["expires_at"]),
        ),
        staff_id=int(payload["staff_id"]),
        full_name=str(payload["full_name"]),
        occasion=SlipOccasion(payload["occasion"]),
        notice=str(payload["notice"]),
        then_list=bool(payload["then_list"]),
    )


@dataclass(frozen=True)
class SecretSlip:
    """A relying app's new client secret, for the one page after the POST that made it."""

    client_id: str
    secret: str = field(repr=False)


def keep_secret_slip(db: Session, browser_id: str, slip: SecretSlip, now: datetime | None = None) -> str:
    slip_id = secrets.token_urlsafe(16)
    payload = {"client_id": slip.client_id, "secret": slip.secret}
    flow_state.park(
        db, browser_id, FlowKind.SECRET_SLIP, {"sealed": _seal(browser_id, slip_id, payload)},
        ttl=SLIP_TTL, key=slip_id, now=now,
    )
    return slip_id


def take_secret_slip(db: Session, browser_id: str, slip_id: str, now: datetime | None = None) -> SecretSlip | None:
    """The secret, removed; None when taken already, expired, or not this browser's."""
    payload = _take(db, browser_id, FlowKind.SECRET_SLIP, slip_id, now)
    if payload is None:
        return None
    return SecretSlip(client_id=str(payload["client_id"]), secret=str(payload["secret"]))


def _seal(browser_id: str, slip_id: str, payload: dict[str, Any]) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(browser_id)).encrypt(nonce, json.dumps(payload).encode(), slip_id.encode())
    return base64.b64encode(nonce + sealed).decode()


def _take(
    db: Session, browser_id: str, kind: FlowKind, slip_id: str, now: datetime | None
) -> dict[str, Any] | None:
    """The step consumed by one DELETE … RETURNING and opened; None if absent, expired or not this browser's."""
    if not slip_id or len(slip_id) > 64:
        return None
    step = flow_state.consume(db, browser_id, kind, key=slip_id, now=now or utcnow())
    if step is None or not isinstance(step.get("sealed"), str):
        return None
    try:
        blob = base64.b64decode(step["sealed"])
        opened = AESGCM(_key(browser_id)).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], slip_id.encode())
    except (InvalidTag, ValueError):
        return None
    payload: dict[str, Any] = json.loads(opened)
    return payload


def _key(browser_id: str) -> bytes:
    # The browser id is 256 random bits the database never sees (it keeps the id's SHA-256).
    return hmac.new(browser_id.encode(), _PURPOSE, hashlib.sha256).digest()
