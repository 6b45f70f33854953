"""Throttling of local-password attempts: an attempt is reserved before the hash runs.

Only the local password step (first sign-in, binding) is throttled. Signing in through the
external ID never consults these counters, so guessing someone's password cannot keep them out
of Gosuslugi or РСАА.

Count before you spend. `reserve_attempt` takes one attempt from every budget in one transaction
of conditional upserts (`INSERT … ON CONFLICT (key) DO UPDATE … WHERE <budget left> RETURNING`,
SQLite ≥ 3.35 and PostgreSQL alike): the row is locked by the statement that checks it, so N
parallel guesses on any number of nodes cannot reserve more than the budget holds. Only then does
the caller run argon2. A success gives the attempt back (`attempt_succeeded`); a failure keeps it.

Three budgets, and no lock a stranger can renew against the owner:

- **a login from one address** — `login_address_budget` (5) attempts per `window` (15 min). The
  tight limit, and one a stranger exhausts only for themselves: the owner, at their own address,
  keeps their own five.
- **an address** — `address_budget` (30) per window, whatever the login: one address spraying many
  logins. IPv6 addresses count per /64 (one subscriber's network), so a sprayer cannot mint a
  fresh budget per address. Behind a reverse proxy this needs `BRIDGE_TRUSTED_PROXIES`, or every
  client shares the proxy's budget.
- **a login from everywhere** — never refuses on its own. Once `backoff_after` (20) attempts at the
  login failed, each further attempt from an address must wait since that address's previous
  attempt at the login: `backoff_first_delay` (1 min), doubling per failure, capped at
  `backoff_max_delay` (15 min). The login forgets its failures after `backoff_memory` (24 h)
  without one, or at once when the right password is given. A distributed sprayer is slowed to
  about one guess per address per 15 minutes; the delay is measured per address, so the sprayer
  cannot spend the owner's turn, and the owner's first attempt from their address is never delayed.

A global hard lock per login was rejected: whoever knows a login could renew it forever. The
price is that a sprayer with K addresses gets K first attempts and then K per 15 minutes at one
login; with generated 12-character passwords that is not a guessing threat, and an administrator
can lift everything (`lift_login_throttle`: `bridge staff unlock`, the staff card).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.services.errors import DomainError
from bridge.storage.models import ThrottleCounter
from bridge.storage.types import utcnow

# A key part longer than this (or carrying the separator) is stored as its digest: the key column
# holds 300 characters, and an attacker chooses the login.
_MAX_PART = 120
_SEPARATOR = "|"


class ThrottleKind(enum.StrEnum):
    """Which budget refused; audited with `signin.throttled`."""

    LOGIN_ADDRESS = "login_address"
    ADDRESS = "address"
    LOGIN_BACKOFF = "login_backoff"


@dataclass(frozen=True)
class ThrottlePolicy:
    login_address_budget: int = 5
    address_budget: int = 30
    window: timedelta = timedelta(minutes=15)
    backoff_after: int = 20
    backoff_first_delay: timedelta = timedelta(minutes=1)
    backoff_max_delay: timedelta = timedelta(minutes=15)
    # Longer than the window: a sprayer pausing for one window must not start the count afresh.
    backoff_memory: timedelta = timedelta(hours=24)

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            login_address_budget=settings.login_throttle_max_failures,
            address_budget=settings.address_throttle_max_failures,
            window=settings.login_throttle_window,
            backoff_after=settings.login_backoff_after,
            backoff_max_delay=settings.login_backoff_max,
            backoff_memory=settings.login_backoff_memory,
        )

    def backoff_delay(self, failures: int) -> timedelta:
        """How long an address waits between attempts at a login that failed `failures` times."""
        if failures < self.backoff_after:
            return timedelta(0)
        delay = self.backoff_first_delay
        for _ in range(failures - self.backoff_after):
            if delay >= self.backoff_max_delay:
                break
            delay *= 2
        return min(delay, self.backoff_max_delay)


class Throttled(DomainError):
    """No attempt is left in one of the budgets; the message is for the person at the form."""

    def __init__(self, kind: ThrottleKind, retry_at: datetime, now: datetime) -> None:
        minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
        super().__init__(
            "throttled",
            f"Слишком много неудачных попыток ввода пароля. Повторите через {minutes} мин. "
            "Вход через Госуслуги или РСАА для уже привязанных учётных записей работает как обычно.",
            key=kind.value,
        )
        self.kind = kind
        self.retry_at = retry_at


@dataclass(frozen=True)
class LoginThrottle:
    """What an administrator sees about a login's counters."""

    failures: int
    # Addresses that have used up their own attempts at this login for the current window.
    exhausted_addresses: int
    backoff_delay: timedelta

    @property
    def restricts(self) -> bool:
        return self.exhausted_addresses > 0 or self.backoff_delay > timedelta(0)


# --- keys ------------------------------------------------------------------------------------


def normalized_login(login: str) -> str:
    """The login as the throttle counts it: case and surrounding spaces do not make a new one."""
    return _bounded(login.strip().lower())


def address_scope(address: str | None) -> str:
    """The network an address is counted in: the IPv4 address, or the IPv6 /64."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return _bounded(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def login_key(login: str) -> str:
    return "login:" + normalized_login(login)


def address_key(address: str | None) -> str:
    return "address:" + address_scope(address)


def login_address_key(login: str, address: str | None) -> str:
    return f"login_address:{normalized_login(login)}{_SEPARATOR}{address_scope(address)}"


def _bounded(value: str) -> str:
    # A NUL byte is hashed away too: PostgreSQL refuses one in a query (a typed login, an address).
    if len(value) <= _MAX_PART and _SEPARATOR not in value and "\x00" not in value:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


# --- reserving and settling ------------------------------------------------------------------


def reserve_attempt(
    db: Session, login: str, address: str | None, policy: ThrottlePolicy, now: datetime | None = None
) -> None:
    """Take one attempt from every budget, or raise Throttled; call before verifying the password.

    Raising inside the caller's transaction rolls back whatever was already taken. The rows are
    locked in one order (login, address, login from address), so concurrent reservations queue
    rather than deadlock.
    """
    now = now or utcnow()
    name = normalized_login(login)
    failures = _count_login_attempt(db, login_key(login), name, policy, now) - 1
    delay = policy.backoff_delay(failures)
    if not _take(db, address_key(address), None, policy.address_budget, policy.window, now):
        raise _refusal(db, address_key(address), ThrottleKind.ADDRESS, policy.address_budget, policy, now)
    pair = login_address_key(login, address)
    if not _take(db, pair, name, policy.login_address_budget, policy.window, now, spacing=delay):
        raise _refusal(db, pair, ThrottleKind.LOGIN_ADDRESS, policy.login_address_budget, policy, now, delay)


def attempt_succeeded(
    db: Session, login: str, address: str | None, policy: ThrottlePolicy, now: datetime | None = None
) -> int:
    """The password was right: the login's counters go, and the address gets its attempt back.

    Returns the failed attempts at `login` from other addresses, if none came from this one (else
    0), as the counters stood before they went: repeated guessing elsewhere, then this success.
    The attempt this success reserved is not counted; attempts still in flight elsewhere are.
    The login's counters are read by the statements that clear them (DELETE … RETURNING), in the
    order a reservation locks the rows (login, address, login from address): no deadlock with one.
    """
    now = now or utcnow()
    forget, give_back = _settle_statements()
    connection = db.connection()
    at_login = connection.execute(forget, {"t_key": login_key(login)}).one_or_none()
    connection.execute(give_back, {"t_key": address_key(address)})
    here = connection.execute(forget, {"t_key": login_address_key(login, address)}).one_or_none()
    if at_login is None or at_login.last_attempt_at <= now - policy.backoff_memory:
        return 0
    if here is not None and here.window_started_at > now - policy.window and here.attempts > 1:
        return 0
    return max(0, int(at_login.attempts) - 1)


def lift_login_throttle(db: Session, login: str) -> int:
    """Forget every counter of `login` (from every address); returns how many there were."""
    name = normalized_login(login)
    # The login's own row first, as a reservation takes it, so the two queue instead of deadlocking.
    first = db.execute(delete(ThrottleCounter).where(ThrottleCounter.key == login_key(login)))
    rest = db.execute(delete(ThrottleCounter).where(ThrottleCounter.login == name))
    return int(getattr(first, "rowcount", 0) or 0) + int(getattr(rest, "rowcount", 0) or 0)


def login_throttle(
    db: Session, login: str, policy: ThrottlePolicy, now: datetime | None = None
) -> LoginThrottle | None:
    """The live counters of `login`, or None when nothing is counted against it."""
    now = now or utcnow()
    counters = db.scalars(select(ThrottleCounter).where(ThrottleCounter.login == normalized_login(login))).all()
    failures = 0
    exhausted = 0
    for counter in counters:
        if counter.key == login_key(login):
            if counter.last_attempt_at > now - policy.backoff_memory:
                failures = counter.attempts
        elif counter.window_started_at > now - policy.window and counter.attempts >= policy.login_address_budget:
            exhausted += 1
    if failures == 0 and exhausted == 0:
        return None
    return LoginThrottle(failures, exhausted, policy.backoff_delay(failures))


# --- the statements --------------------------------------------------------------------------


_COUNTERS = cast(Table, ThrottleCounter.__table__)


@functools.cache
def _upsert(dialect: str) -> Any:
    # On the table, not the mapped class: the ORM's bulk-insert path would rebuild the statement.
    if dialect == "postgresql":
        return postgresql.insert(_COUNTERS)
    if dialect == "sqlite":
        return sqlite.insert(_COUNTERS)
    raise NotImplementedError(f"no atomic throttle reservation for {dialect}")


# The statements below are built once per dialect and run with new parameters: SQLAlchemy then
# computes a statement's cache key once, not at every attempt (it was most of a reservation's cost).
# Parameter names unlike any column, so none of them is taken for a column's own value.
_NEW_ROW = {
    "key": bindparam("t_key"), "login": bindparam("t_login"), "attempts": 1,
    "window_started_at": bindparam("t_now"), "last_attempt_at": bindparam("t_now"),
}


@functools.cache
def _count_statement(dialect: str) -> Any:
    table = _COUNTERS.c
    quiet = table.last_attempt_at <= bindparam("t_quiet_before")
    statement = _upsert(dialect).values(_NEW_ROW)
    return statement.on_conflict_do_update(
        index_elements=[table.key],
        set_={
            "attempts": case((quiet, 1), else_=table.attempts + 1),
            "window_started_at": case((quiet, statement.excluded.window_started_at), else_=table.window_started_at),
            "last_attempt_at": statement.excluded.last_attempt_at,
        },
    ).returning(table.attempts)


@functools.cache
def _take_statement(dialect: str, spaced: bool) -> Any:
    table = _COUNTERS.c
    expired = table.window_started_at <= bindparam("t_window_before")
    allowed: ColumnElement[bool] = or_(expired, table.attempts < bindparam("t_budget"))
    if spaced:
        allowed = and_(allowed, table.last_attempt_at <= bindparam("t_spaced_before"))
    statement = _upsert(dialect).values(_NEW_ROW)
    return statement.on_conflict_do_update(
        index_elements=[table.key],
        set_={
            "attempts": case((expired, 1), else_=table.attempts + 1),
            "window_started_at": case((expired, statement.excluded.window_started_at),
                                      else_=table.window_started_at),
            "last_attempt_at": statement.excluded.last_attempt_at,
        },
        where=allowed,
    ).returning(table.attempts)


@functools.cache
def _settle_statements() -> tuple[Any, Any]:
    table = _COUNTERS.c
    forget = (
        delete(_COUNTERS)
        .where(table.key == bindparam("t_key"))
        .returning(table.attempts, table.window_started_at, table.last_attempt_at)
    )
    give_back = (
        update(_COUNTERS).where(table.key == bindparam("t_key"), table.attempts > 0).values(attempts=table.attempts - 1)
    )
    return forget, give_back


def _count_login_attempt(db: Session, key: str, name: str, policy: ThrottlePolicy, now: datetime) -> int:
    """Count an attempt at the login from anywhere (never refused); returns the count with it."""
    # On the session's connection: a Core statement needs none of the ORM's execution path.
    connection = db.connection()
    statement = _count_statement(connection.dialect.name)
    parameters = {"t_key": key, "t_login": name, "t_now": now, "t_quiet_before": now - policy.backoff_memory}
    return int(connection.execute(statement, parameters).scalar_one())


def _take(
    db: Session,
    key: str,
    login: str | None,
    budget: int,
    window: timedelta,
    now: datetime,
    *,
    spacing: timedelta = timedelta(0),
) -> bool:
    """One attempt from a windowed budget, only while some is left (and `spacing` has passed)."""
    spaced = spacing > timedelta(0)
    connection = db.connection()
    statement = _take_statement(connection.dialect.name, spaced)
    parameters = {
        "t_key": key, "t_login": login, "t_now": now, "t_window_before": now - window, "t_budget": budget,
        **({"t_spaced_before": now - spacing} if spaced else {}),
    }
    return connection.execute(statement, parameters).first() is not None


def _refusal(
    db: Session,
    key: str,
    kind: ThrottleKind,
    budget: int,
    policy: ThrottlePolicy,
    now: datetime,
    spacing: timedelta = timedelta(0),
) -> Throttled:
    """Why the budget at `key` refused, and until when (the refused statement locked the row)."""
    counter = db.get(ThrottleCounter, key)
    assert counter is not None, "a refused reservation has a counter"
    retry_at = now
    if counter.window_started_at > now - policy.window and counter.attempts >= budget:
        retry_at = counter.window_started_at + policy.window
    if spacing > timedelta(0) and counter.last_attempt_at + spacing > retry_at:
        retry_at = counter.last_attempt_at + spacing
        kind = ThrottleKind.LOGIN_BACKOFF
    return Throttled(kind, retry_at, now)


# --- budgets of public forms (registration requests, «Не могу войти») -------------------------


def take_from_budget(db: Session, key: str, budget: int, window: timedelta, now: datetime | None = None) -> bool:
    """One use of a windowed budget (e.g. requests from an address per hour); False when spent.

    The same conditional upsert as a password attempt: reserved before the work it guards, so
    parallel submissions cannot overspend it.
    """
    return _take(db, _bounded(key), None, budget, window, now or utcnow())
