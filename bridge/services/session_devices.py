"""«Мои сеансы и устройства»: a person's live sign-in sessions, and ending one or all but this one.

A session is listed while it could still be used (the rule of `load_active_signin`: not ended, not
past its end or its idle limit, of the person's current generation). Ending one also revokes the
grants and refresh tokens issued under it, so an app signed in through it loses access too.
The session is named by its public `sid`, never by its id (a bearer secret), and only the
person's own: someone else's `sid` is not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from bridge.services.logout_deliveries import queue_logout_tokens
from bridge.services.oauth_tokens import revoke_session_tokens
from bridge.services.signin_sessions import SessionTimeouts
from bridge.storage.models import SignInSession, StaffMember
from bridge.storage.types import utcnow

# The first that matches names the browser: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("YaBrowser/", "Яндекс Браузер"),
    ("Edg/", "Microsoft Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    # Safari says its own version after "Version/" (its "Safari/" number is WebKit's).
    ("Version/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
_VERSION = re.compile(r"[\d]+")


@dataclass(frozen=True)
class DeviceSession:
    """One line of «Мои сеансы»: plain values, no secret (the `sid` is public)."""

    sid: str
    browser: str
    address: str | None
    started_at: datetime
    last_seen_at: datetime
    provider: str
    current: bool


def browser_title(user_agent: str | None) -> str:
    """«Chrome 120, Android»: a simple reading of the User-Agent, enough for a person to recognise it."""
    if not user_agent:
        return "Неизвестный браузер"
    name = "Браузер"
    for marker, title in _BROWSERS:
        position = user_agent.find(marker)
        if position >= 0:
            version = _VERSION.match(user_agent, position + len(marker))
            name = f"{title} {version.group(0)}" if version else title
            break
    system = next((title for marker, title in _SYSTEMS if marker in user_agent), None)
    return f"{name}, {system}" if system else name


# The account page lists this many of the person's sessions, the most recently seen first; the rest
# are counted (a person signing in from fresh browsers all day must not get a page of thousands).
SHOWN_SESSIONS = 20


def live_sessions(
    db: Session, staff: StaffMember, timeouts: SessionTimeouts, current_sid: str | None, now: datetime | None = None,
    *, shown: int = SHOWN_SESSIONS,
) -> list[DeviceSession]:
    """The person's sessions that still work: this browser's first, then the most recently seen
    (at most `shown` in all)."""
    now = now or utcnow()
    order: list[ColumnElement[Any]] = [SignInSession.last_seen_at.desc(), SignInSession.created_at.desc()]
    if current_sid:
        order.insert(0, case((SignInSession.sid == current_sid, 0), else_=1))
    records = db.scalars(_live(staff, timeouts, now).order_by(*order).limit(shown)).all()
    return [
        DeviceSession(
            sid=record.sid, browser=browser_title(record.user_agent), address=record.address,
            started_at=record.created_at, last_seen_at=record.last_seen_at, provider=record.provider,
            current=record.sid == current_sid,
        )
        for record in records
    ]


def count_live_sessions(db: Session, staff: StaffMember, timeouts: SessionTimeouts, now: datetime | None = None) -> int:
    return db.scalar(_live(staff, timeouts, now or utcnow()).with_only_columns(func.count())) or 0


def _live(staff: StaffMember, timeouts: SessionTimeouts, now: datetime) -> Select[SignInSession]:
    """Not ended, not past its end, of the person's current generation, seen within its idle limit."""
    return select(SignInSession).where(
        SignInSession.staff_id == staff.id,
        SignInSession.ended_at.is_(None),
        SignInSession.expires_at > now,
        SignInSession.session_generation == staff.session_generation,
        or_(
            and_(SignInSession.remember.is_(True), SignInSession.last_seen_at > now - timeouts.remembered_idle),
            and_(SignInSession.remember.is_(False), SignInSession.last_seen_at > now - timeouts.idle),
        ),
    )


def end_own_session(db: Session, staff_id: int, sid: str, now: datetime | None = None) -> SignInSession | None:
    """End the person's session named by `sid` and revoke what apps got through it; None if not theirs.

    One conditional UPDATE: someone else's `sid`, or one already ended, changes nothing.
    """
    now = now or utcnow()
    # The apps this session was used with hear of it (after commit); only a live session of this
    # person is announced, so someone else's `sid` queues nothing.
    queue_logout_tokens(db, (SignInSession.sid == sid) & (SignInSession.staff_id == staff_id), now)
    ended = db.execute(
        update(SignInSession)
        .where(SignInSession.sid == sid, SignInSession.staff_id == staff_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now)
        .returning(SignInSession.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if ended is None:
        return None
    revoke_session_tokens(db, ended, now)
    return db.get(SignInSession, ended, populate_existing=True)


def other_live_sids(db: Session, staff_id: int, keep_sid: str, now: datetime | None = None) -> list[str]:
    """Every session of the person not yet ended, but the one to keep."""
    now = now or utcnow()
    return list(
        db.scalars(
            select(SignInSession.sid).where(
                SignInSession.staff_id == staff_id, SignInSession.ended_at.is_(None),
                SignInSession.expires_at > now, SignInSession.sid != keep_sid,
            )
        )
    )
