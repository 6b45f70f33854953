"""An issued password between the POST that issued it and the one page that shows it.

The pages park the use case's credential for the administrator's browser and redirect; the GET
takes it, once (`services/credential_slips.py`). The CLI prints the password itself.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bridge.services import credential_slips
from bridge.services.credential_slips import CredentialSlip, SlipOccasion
from bridge.storage.database import transaction

__all__ = ["CredentialSlip", "SlipOccasion", "keep_credential_slip", "take_credential_slip"]


def keep_credential_slip(database: sessionmaker[Session], browser_id: str, slip: CredentialSlip) -> str:
    """Park the slip for this browser; the slip id goes into the redirect."""
    with transaction(database) as db:
        return credential_slips.keep_slip(db, browser_id, slip)


def take_credential_slip(database: sessionmaker[Session], browser_id: str, slip_id: str) -> CredentialSlip | None:
    """The slip, once; None afterwards (a refresh shows «пароль уже был показан»)."""
    with transaction(database) as db:
        return credential_slips.take_slip(db, browser_id, slip_id)
