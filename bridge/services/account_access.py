"""Ending a person's access at once: every sign-in session, every app's grant, every pending way in.

«Завершить сеансы» ends what is signed in now; a block or a deactivation also closes what could
sign in next (activation links, parked proofs of the password). Each is a set-based UPDATE or
DELETE on the person's rows, so a session or token that races it is ended too: a session of an
older `session_generation` is dead wherever it is presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bridge.services.activation_links import revoke_activation_links
from bridge.services.flow_state import discard_for_staff
from bridge.services.logout_deliveries import queue_logout_tokens
from bridge.services.oauth_tokens import revoke_staff_tokens
from bridge.services.signin_sessions import end_all_signin_sessions
from bridge.storage.models import SignInSession, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class SessionsEnded:
    sessions_ended: int
    # Refresh tokens revoked (their grants too: access tokens already issued fail at userinfo).
    tokens_revoked: int


@dataclass(frozen=True)
class AccessCut:
    """What a block or a deactivation tore down, for the audit log and the administrator."""

    sessions_ended: int
    tokens_revoked: int
    links_revoked: int
    steps_discarded: int


def end_sessions(db: Session, staff: StaffMember, now: datetime | None = None) -> SessionsEnded:
    """Every sign-in session of the person ends, every app loses its grant and is told (back-channel)."""
    now = now or utcnow()
    # The apps these sessions were used with hear of it (after commit), before the sessions end.
    queue_logout_tokens(db, SignInSession.staff_id == staff.id, now)
    staff.session_generation = staff.session_generation + 1
    sessions = end_all_signin_sessions(db, staff.id, now)
    tokens = revoke_staff_tokens(db, staff.id, now)
    db.flush()
    return SessionsEnded(sessions_ended=sessions, tokens_revoked=tokens)


def cut_access(db: Session, staff: StaffMember, now: datetime | None = None) -> AccessCut:
    """`end_sessions`, and no way in is left pending: activation links and parked proofs go too."""
    now = now or utcnow()
    ended = end_sessions(db, staff, now)
    links = revoke_activation_links(db, staff.id, now)
    steps = discard_for_staff(db, staff.id)
    return AccessCut(
        sessions_ended=ended.sessions_ended, tokens_revoked=ended.tokens_revoked,
        links_revoked=links, steps_discarded=steps,
    )
