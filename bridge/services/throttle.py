"""Throttling of failed local-password attempts, per account and per address.

Only the local password step is throttled. Signing in through the external ID never
consults these counters, so guessing someone's password cannot lock them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bridge.storage.models import ThrottleCounter
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta


def login_key(login: str) -> str:
    return "login:" + login.strip().lower()


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")


def blocked_until(db: Session, keys: dict[str, ThrottlePolicy], now: datetime | None = None) -> datetime | None:
    """The latest time any of `keys` stays blocked, or None if all may try."""
    now = now or utcnow()
    latest: datetime | None = None
    for key in keys:
        counter = db.get(ThrottleCounter, key)
        if counter is not None and counter.blocked_until is not None and counter.blocked_until > now:
            latest = counter.blocked_until if latest is None else max(latest, counter.blocked_until)
    return latest


def register_failure(db: Session, keys: dict[str, ThrottlePolicy], now: datetime | None = None) -> None:
    """Count one failed attempt against every key; block a key that reaches its limit."""
    now = now or utcnow()
    for key, policy in keys.items():
        counter = db.get(ThrottleCounter, key, with_for_update=True)
        if counter is None:
            counter = ThrottleCounter(key=key, failures=0, window_started_at=now)
            db.add(counter)
        elif counter.window_started_at + policy.window <= now:
            counter.failures = 0
            counter.window_started_at = now
            counter.blocked_until = None
        counter.failures += 1
        if counter.failures >= policy.max_failures:
            counter.blocked_until = now + policy.window
    db.flush()


def clear(db: Session, key: str) -> None:
    counter = db.get(ThrottleCounter, key)
    if counter is not None:
        db.delete(counter)
        db.flush()
