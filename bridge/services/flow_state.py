"""Sign-in ceremonies parked on the server, one row per step, consumed by one atomic statement.

The browser carries an opaque id of 256 random bits (its flow cookie); rows store only its
SHA-256, so a database dump yields no cookie to replay. A step is found by (browser, kind, key):
- the upstream round trip by the `state` it sent, so a callback must come back to the browser
  that started it *and* carry that state;
- a pending binding and a local-password proof, one per browser;
- an activation-link proof, and a signed-in person's request to link a second provider, by the
  `state` of the round trip it started;
- a relying app's parked authorization request by a random tab id.
Taking a step is `DELETE … RETURNING` (SQLite ≥ 3.35 and PostgreSQL): of two racing requests,
a copied cookie and its original, or two nodes, exactly one gets the row.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.storage.models import AuthFlow
from bridge.storage.types import utcnow

# Expired rows removed per purge; purging runs beside normal writes, so it stays small.
PURGE_BATCH = 200


# A step is found by (browser, kind, key), bound as parameters (see `_step`): the statements on
# every sign-in's path are built once, so SQLAlchemy neither rebuilds them nor recomputes their
# cache keys per call.
_FLOWS = cast(Table, AuthFlow.__table__)
_STEP = (
    _FLOWS.c.browser == bindparam("step_browser"),
    _FLOWS.c.kind == bindparam("step_kind"),
    _FLOWS.c.key == bindparam("step_key"),
)
# Run on the connection: a plain DELETE … RETURNING, without the ORM's DML machinery (nothing of
# the row is ever loaded as an object).
_TAKE_STEP = delete(_FLOWS).where(*_STEP).returning(_FLOWS.c.data, _FLOWS.c.expires_at)
_CLEAR_STEP = delete(_FLOWS).where(*_STEP)
# The step taken, and whether a live keyless step of another kind rests in the same browser at that
# moment (the upstream round trip noting a local-password proof): one statement, not a second read.
_RESTING = _FLOWS.alias("resting")
_TAKE_STEP_NOTING = (
    delete(_FLOWS)
    .where(*_STEP)
    .returning(
        _FLOWS.c.data,
        _FLOWS.c.expires_at,
        exists()
        .where(
            _RESTING.c.browser == bindparam("step_browser"),
            _RESTING.c.kind == bindparam("noted_kind"),
            _RESTING.c.key == "",
            _RESTING.c.expires_at > bindparam("step_now"),
        )
        .label("noted"),
    )
)
_PEEK_STEP = select(_FLOWS.c.data).where(*_STEP, _FLOWS.c.expires_at > bindparam("step_now"))
_REPLACE_STEP = update(_FLOWS).where(*_STEP).values(data=bindparam("step_data"))
_PARK_STEP = insert(_FLOWS)
def _replacing_step(dialect_insert: Any) -> Any:
    statement = dialect_insert(_FLOWS)
    return statement.on_conflict_do_update(
        index_elements=[_FLOWS.c.browser, _FLOWS.c.kind, _FLOWS.c.key],
        set_={name: statement.excluded[name] for name in ("staff_id", "data", "created_at", "expires_at")},
    )


# A browser's keyless step is replaced by one INSERT … ON CONFLICT DO UPDATE: two tabs parking it at
# once both succeed and the later one stays. A DELETE then an INSERT let the second INSERT, waiting on
# the first's uncommitted row, fail on the unique (browser, kind, key) on PostgreSQL: a 500.
_REPLACE_KEYLESS_STEP = {"postgresql": _replacing_step(postgresql.insert), "sqlite": _replacing_step(sqlite.insert)}


class FlowKind(StrEnum):
    UPSTREAM = "upstream"
    PENDING_BINDING = "pending_binding"
    LOCAL_PROOF = "local_proof"
    # A usable activation link followed in this browser, keyed by the round trip it started.
    ACTIVATION_PROOF = "activation_proof"
    AUTHORIZATION = "authorization"
    # An issued password waiting for the one page that shows it (bridge.services.credential_slips).
    CREDENTIAL_SLIP = "credential_slip"
    # A signed-in person linking a second provider, keyed by the round trip it started.
    LINK_PROOF = "link_proof"
    # A relying app's new client secret, the same way (bridge.services.credential_slips).
    SECRET_SLIP = "secret_slip"  # noqa: S105 (a kind of step, not a secret)
    # The staff list's search text (a name, a login, a СНИЛС), kept so no URL carries it
    # (bridge/application/staff_searches.py).
    STAFF_SEARCH = "staff_search"
    # A spreadsheet's rows between the import's dry run and its confirmation (bridge/services/staff_import.py).
    STAFF_IMPORT = "staff_import"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def park(
    db: Session,
    browser_id: str,
    kind: FlowKind,
    data: dict[str, Any],
    *,
    ttl: timedelta,
    key: str = "",
    staff_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Park a step: one INSERT.

    A step with a key (a fresh `state` or tab id) is new by construction. A browser has one step
    of each keyless kind: parking another replaces the one it had.
    """
    now = now or utcnow()
    browser, hashed_key = digest(browser_id), digest(key) if key else ""
    # What the caller added before (a new person a step rests on) is written first, as the ORM's
    # flush of the step did; then the step as a plain INSERT: nothing of it is ever loaded as an object.
    db.flush()
    connection = db.connection()
    connection.execute(
        _PARK_STEP if key else _REPLACE_KEYLESS_STEP[connection.dialect.name],
        {
            "browser": browser, "kind": kind.value, "key": hashed_key, "staff_id": staff_id, "data": data,
            "created_at": now, "expires_at": now + ttl,
        },
    )


def park_together(
    db: Session,
    browser_id: str,
    steps: Sequence[tuple[FlowKind, dict[str, Any], timedelta, str]],
    *,
    now: datetime | None = None,
) -> None:
    """Park steps that begin together — (kind, data, ttl, key) each — by one INSERT of all the keyed
    ones. A keyless step replaces the one of its kind the browser had, by the upsert `park` uses.
    """
    now = now or utcnow()
    browser = digest(browser_id)
    connection = db.connection()
    keyed = []
    for kind, data, ttl, key in steps:
        row = {
            "browser": browser, "kind": kind.value, "key": digest(key) if key else "", "staff_id": None,
            "data": data, "created_at": now, "expires_at": now + ttl,
        }
        if key:
            keyed.append(row)
        else:
            connection.execute(_REPLACE_KEYLESS_STEP[connection.dialect.name], row)
    if keyed:
        # The statement built once, its rows as parameter sets (one executemany: one sqlite3 call,
        # one psycopg pipeline); a VALUES list of literal values is never cached: compiled anew each time.
        connection.execute(_PARK_STEP, keyed)


def consume(
    db: Session, browser_id: str, kind: FlowKind, *, key: str = "", now: datetime | None = None
) -> dict[str, Any] | None:
    """Take the step: its data if it existed and had not expired, else None. Never twice."""
    now = now or utcnow()
    row = db.connection().execute(_TAKE_STEP, _step(browser_id, kind, key)).one_or_none()
    if row is None or not _live(row.expires_at, now):
        return None
    data: dict[str, Any] = row.data
    return data


def consume_noting(
    db: Session | Connection,
    browser_id: str,
    kind: FlowKind,
    *,
    key: str,
    noting: FlowKind,
    now: datetime | None = None,
) -> tuple[dict[str, Any] | None, bool]:
    """`consume`, and whether a live step of the keyless kind `noting` rests in this browser as the
    step is taken (False when there was no step to take)."""
    now = now or utcnow()
    connection = db.connection() if isinstance(db, Session) else db
    parameters = {**_step(browser_id, kind, key), "noted_kind": noting.value, "step_now": now}
    row = connection.execute(_TAKE_STEP_NOTING, parameters).one_or_none()
    if row is None or not _live(row.expires_at, now):
        return None, False
    data: dict[str, Any] = row.data
    return data, bool(row.noted)


def peek(
    db: Session, browser_id: str, kind: FlowKind, *, key: str = "", now: datetime | None = None
) -> dict[str, Any] | None:
    """Read a live step without taking it (to show a page that belongs to it)."""
    now = now or utcnow()
    data: dict[str, Any] | None = (
        db.connection().execute(_PEEK_STEP, {**_step(browser_id, kind, key), "step_now": now}).scalar()
    )
    return data


def replace_data(db: Session, browser_id: str, kind: FlowKind, data: dict[str, Any], *, key: str = "") -> bool:
    """Update a step's data in place, keeping its expiry; False when it is gone (taken or purged)."""
    result = db.connection().execute(_REPLACE_STEP, {**_step(browser_id, kind, key), "step_data": data})
    return int(getattr(result, "rowcount", 0) or 0) == 1


def discard_for_staff(db: Session, staff_id: int) -> int:
    """Forget every step resting on this person's credential (after a reset, unbind or block)."""
    result = db.execute(
        delete(AuthFlow).where(AuthFlow.staff_id == staff_id).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(db: Session, now: datetime | None = None, *, batch: int = PURGE_BATCH) -> int:
    now = now or utcnow()
    oldest = select(AuthFlow.id).where(AuthFlow.expires_at <= now).order_by(AuthFlow.expires_at).limit(batch)
    result = db.execute(
        delete(AuthFlow).where(AuthFlow.id.in_(oldest)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _live(expires_at: datetime, now: datetime) -> bool:
    """A taken step counts only if it had not expired (an expired row is taken all the same: gone)."""
    return expires_at > now


def _step(browser_id: str, kind: FlowKind, key: str) -> dict[str, str]:
    """The parameters of `_STEP`: the browser's and the key's digests, never the values themselves."""
    return {
        "step_browser": digest(browser_id),
        "step_kind": kind.value,
        "step_key": digest(key) if key else "",
    }


class PurgeSchedule:
    """Purges expired steps now and then, beside a write that is happening anyway.

    One per process (kept by the runtime): at most one small purge per `interval_seconds`, so
    the table stays bounded without a statement on every step.
    """

    def __init__(self, interval_seconds: float = 60.0) -> None:
        self.interval_seconds = interval_seconds
        self._last = float("-inf")

    def maybe_purge(self, db: Session) -> int:
        now = time.monotonic()
        if now - self._last < self.interval_seconds:
            return 0
        self._last = now
        return purge_expired(db)
