"""An issued password between the POST that issued it and the one page that shows it.

The pages park the use case's credential for the administrator's browser and redirect; the GET
takes it, once (`services/credential_slips.py`). The CLI prints the password itself.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bridge.services import credential_slips
from bridge.services.credential_slips import CredentialSlip, SecretSlip, SlipOccasion
from bridge.storage.database import transaction

__all__ = [
    "CredentialSlip", "SecretSlip", "SlipOccasion", "keep_credential_slip", "keep_secret_slip", "take_credential_slip",
    "take_secret_slip",
]


def keep_credential_slip(database: sessionmaker[Session], browser_id: str, slip: CredentialSlip) -> str:
    """Park the slip for this browser; the slip id goes into the redirect."""
    with transaction(database) as db:
        return credential_slips.keep_slip(db, browser_id, slip)


def take_credential_slip(database: sessionmaker[Session], browser_id: str, slip_id: str) -> CredentialSlip | None:
    """The slip, once; None afterwards (a refresh shows «пароль уже был показан»)."""
    with transaction(database) as db:
        return credential_slips.take_slip(db, browser_id, slip_id)


def keep_secret_slip(database: sessionmaker[Session], browser_id: str, slip: SecretSlip) -> str:
    """A relying app's new secret parked for this browser, like a password slip."""
    with transaction(database) as db:
        return credential_slips.keep_secret_slip(db, browser_id, slip)


def take_secret_slip(database: sessionmaker[Session], browser_id: str, slip_id: str) -> SecretSlip | None:
    """The secret, once; None afterwards (a refresh shows «секрет уже был показан»)."""
    with transaction(database) as db:
        return credential_slips.take_secret_slip(db, browser_id, slip_id)
