"""Back-channel logout deliveries: queued where a session ends, claimed and settled by the dispatcher.

When a sign-in session ends (sign-out, RP-initiated logout, block, deactivation, reset, unbind,
«Завершить сеансы»), every relying app that got a grant in it and registered a
`backchannel_logout_uri` is owed a logout token. The rows are written in the same transaction
that ends the session (a transactional outbox, like the mail's): a rolled-back change announces
nothing, and an app that is down loses nothing. A claim is one conditional UPDATE, so two
dispatchers never deliver the same row in one lease.

An app that asked for `backchannel_logout_session_required` gets one token per session (with its
`sid`); any other app gets one per person (`sub` only: every session of that person at the app).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.storage.models import LogoutDelivery, OAuthClient, OAuthGrant, SignInSession, StaffMember
from bridge.storage.types import utcnow

# Set in a session's `info` when it queued a delivery: its commit wakes the dispatcher.
LOGOUT_QUEUED = "bridge.logout_queued"
# How long a claimed delivery is the claimer's before another dispatcher may try it.
DELIVERY_LEASE = timedelta(minutes=2)
# Waits after the 1st, 2nd, … failure; the last one repeats.
RETRY_DELAYS = (
    timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
)


@dataclass(frozen=True)
class BackchannelSettings:
    """`BRIDGE_BACKCHANNEL_*`: how long an app may take to answer, how often a delivery is tried."""

    timeout_seconds: float = 5.0
    max_attempts: int = 8
    # How often the dispatcher looks for due deliveries when nothing woke it.
    poll_interval: timedelta = timedelta(seconds=15)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BackchannelSettings:
        from bridge.config import SettingsError

        def number(name: str, default: int) -> int:
            value = environ.get(f"BRIDGE_BACKCHANNEL_{name}") or str(default)
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise SettingsError(f"BRIDGE_BACKCHANNEL_{name} must be a whole number of at least 1, not {value!r}")
            return int(value)

        return cls(timeout_seconds=float(number("TIMEOUT_SECONDS", 5)), max_attempts=number("MAX_ATTEMPTS", 8))


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class LogoutToDeliver:
    """A claimed delivery, as plain values: the POST happens outside any transaction."""

    id: int
    client_id: str
    staff_id: int
    subject: str
    sid: str | None
    attempt: int
    uri: str
    # The algorithm the app registered for its id_tokens (None: the bridge's default).
    alg: str | None


def queue_logout_tokens(db: Session, sessions: ColumnElement[bool], now: datetime | None = None) -> int:
    """Owe a logout token to every app the live sessions matching `sessions` were used with.

    Call it before the sessions are ended (only sessions not yet ended are announced, so a
    session ended twice is announced once). Returns how many deliveries were queued.
    """
    now = now or utcnow()
    rows = db.execute(
        select(
            OAuthClient.client_id, OAuthClient.backchannel_logout_session_required,
            SignInSession.staff_id, StaffMember.subject, SignInSession.sid,
        )
        .select_from(OAuthGrant)
        .join(SignInSession, SignInSession.id == OAuthGrant.signin_session_id)
        .join(StaffMember, StaffMember.id == SignInSession.staff_id)
        .join(OAuthClient, OAuthClient.client_id == OAuthGrant.client_id)
        .where(
            sessions, SignInSession.ended_at.is_(None),
            OAuthClient.backchannel_logout_uri.is_not(None), OAuthClient.disabled_at.is_(None),
        )
        .distinct()
    ).all()
    owed: dict[tuple[str, int, str | None], str] = {}
    for client_id, session_required, staff_id, subject, sid in rows:
        owed[(client_id, staff_id, sid if session_required else None)] = subject
    for (app, person, named_sid), subject in sorted(owed.items(), key=lambda item: (item[0][0], item[0][1])):
        db.add(LogoutDelivery(
            client_id=app, staff_id=person, subject=subject, sid=named_sid,
            status=DeliveryStatus.QUEUED.value, attempts=0, next_attempt_at=now, created_at=now,
        ))
    if owed:
        db.flush()
        # The runtime's after-commit hook reads this to wake the dispatcher (bridge.op.backchannel).
        db.info[LOGOUT_QUEUED] = True
    return len(owed)


def announce_session_end(db: Session, signin_session_id: str, now: datetime | None = None) -> int:
    """`queue_logout_tokens` for one session (a sign-out at the bridge or RP-initiated logout)."""
    return queue_logout_tokens(db, SignInSession.id == signin_session_id, now)


def after_commit_of_deliveries(database: sessionmaker[Session], callback: Callable[[], None]) -> None:
    """Call `callback` whenever a session of `database` commits deliveries it queued."""

    def committed(session: Session) -> None:
        if session.info.pop(LOGOUT_QUEUED, False):
            callback()

    def rolled_back(session: Session) -> None:
        session.info.pop(LOGOUT_QUEUED, None)

    event.listen(database, "after_commit", committed)
    event.listen(database, "after_soft_rollback", lambda session, previous: rolled_back(session))


def claim_due(db: Session, *, limit: int = 20, now: datetime | None = None) -> list[LogoutToDeliver]:
    """Take up to `limit` due deliveries for one lease; each is taken by exactly one claimer.

    A delivery whose app has since been disabled or has dropped its logout URI is given up here.
    """
    now = now or utcnow()
    due = db.execute(
        select(LogoutDelivery.id, OAuthClient.backchannel_logout_uri, OAuthClient.disabled_at,
               OAuthClient.id_token_signed_response_alg)
        .outerjoin(OAuthClient, OAuthClient.client_id == LogoutDelivery.client_id)
        .where(LogoutDelivery.status == DeliveryStatus.QUEUED.value, LogoutDelivery.next_attempt_at <= now)
        .order_by(LogoutDelivery.next_attempt_at, LogoutDelivery.id)
        .limit(limit)
    ).all()
    claimed: list[LogoutToDeliver] = []
    for delivery_id, uri, disabled_at, alg in due:
        if uri is None or disabled_at is not None:
            _give_up(db, delivery_id, "the app is disabled or has no backchannel_logout_uri")
            continue
        taken = db.execute(
            update(LogoutDelivery)
            .where(
                LogoutDelivery.id == delivery_id,
                LogoutDelivery.status == DeliveryStatus.QUEUED.value,
                LogoutDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + DELIVERY_LEASE, attempts=LogoutDelivery.attempts + 1)
            .returning(
                LogoutDelivery.client_id, LogoutDelivery.staff_id, LogoutDelivery.subject, LogoutDelivery.sid,
                LogoutDelivery.attempts,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if taken is not None:
            claimed.append(LogoutToDeliver(delivery_id, taken[0], taken[1], taken[2], taken[3], taken[4], uri, alg))
    return claimed


def mark_delivered(db: Session, delivery_id: int, now: datetime | None = None) -> None:
    db.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == delivery_id)
        .values(status=DeliveryStatus.DELIVERED.value, delivered_at=now or utcnow(), last_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed_attempt(
    db: Session, delivery_id: int, attempt: int, error: str, *, max_attempts: int, now: datetime | None = None
) -> DeliveryStatus:
    """Schedule the next attempt, or give the delivery up after `max_attempts`."""
    now = now or utcnow()
    if attempt >= max_attempts:
        _give_up(db, delivery_id, error)
        return DeliveryStatus.FAILED
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    db.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == delivery_id)
        .values(next_attempt_at=now + delay, last_error=_reason(error))
        .execution_options(synchronize_session=False)
    )
    return DeliveryStatus.QUEUED


def _give_up(db: Session, delivery_id: int, error: str) -> None:
    db.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == delivery_id)
        .values(status=DeliveryStatus.FAILED.value, last_error=_reason(error))
        .execution_options(synchronize_session=False)
    )


def _reason(error: str) -> str:
    return " ".join(error.split())[:300]


def retry_failed(db: Session, *, client_id: str | None = None, now: datetime | None = None) -> int:
    """Failed deliveries (of one app, or all) are queued again with a fresh count of attempts."""
    conditions = [LogoutDelivery.status == DeliveryStatus.FAILED.value]
    if client_id is not None:
        conditions.append(LogoutDelivery.client_id == client_id)
    result = db.execute(
        update(LogoutDelivery)
        .where(*conditions)
        .values(status=DeliveryStatus.QUEUED.value, attempts=0, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    retried = int(getattr(result, "rowcount", 0) or 0)
    if retried:
        db.info[LOGOUT_QUEUED] = True
    return retried


def delivery_counts(db: Session) -> dict[DeliveryStatus, int]:
    """How many deliveries wait, went and failed (for operators and metrics)."""
    rows = db.execute(select(LogoutDelivery.status, func.count()).group_by(LogoutDelivery.status)).all()
    counts = dict.fromkeys(DeliveryStatus, 0)
    for status, count in rows:
        counts[DeliveryStatus(status)] = int(count)
    return counts


def failed_deliveries(db: Session, *, limit: int = 20) -> Sequence[LogoutDelivery]:
    """The newest given-up deliveries, for the operator."""
    return db.scalars(
        select(LogoutDelivery)
        .where(LogoutDelivery.status == DeliveryStatus.FAILED.value)
        .order_by(LogoutDelivery.id.desc())
        .limit(limit)
    ).all()
