"""The audit hash chain: every audit record carries the hash of the one before it.

The format of a link is bridge.storage.audit_hash (the migration that chained the records
written before the chain uses it too). The chain head (`audit_chain_head`, one row) holds the
newest seq and hash. Signed anchors (bridge.services.audit_anchors) pin it from time to time.

Order. A chain needs one total order over every writer: many requests at once, several nodes
sharing PostgreSQL, and `record_independently` in transactions of its own. It comes from the head
row: a transaction takes it with `UPDATE audit_chain_head SET seq = seq + n … RETURNING`, which
both locks it (a row lock on PostgreSQL, the write lock on SQLite, where writers are serialised
anyway) and reserves n consecutive seqs; the records are inserted and the head advanced in the
same transaction, so a rollback gives the seqs back and the sequence stays gapless.

When the lock is taken. `record()` does not insert; it parks the record on the session, and the
session's `before_commit` links and inserts everything parked, after flushing every other change
of the transaction. So the head is the *last* lock a transaction takes, and after taking it the
transaction only inserts new rows (records, maybe an anchor) and commits: a holder of the head
never waits for another lock, hence no cycle, hence no deadlock whatever row locks the
transaction took before — a refresh locking its grant and token, a code claimed by UPDATE, a
binding. An advisory lock (`pg_advisory_xact_lock`) would not help by itself: taken in the middle
of a transaction it deadlocks just the same against row locks taken after it, and it is
PostgreSQL-only; the head row is portable and holds the state anyway. The lock is held for the
inserts and the commit only, which bounds audited commits to one at a time (see
benchmarks/audit_chain.py for what that costs).

Two statements, not three. Each process keeps the head it last wrote (per engine): the records are
linked from it before the lock is taken, and the one UPDATE that locks the head and reserves the
seqs also sets the new hash, guarded: `hash = CASE WHEN seq = :known_seq AND hash = :known_hash
THEN :new_hash ELSE hash END`. The guard is evaluated on the row as locked (the newest committed
version: SQLite's writer sees it, PostgreSQL re-reads a row updated meanwhile), so when it holds
the chain ends exactly where the records were linked from and only the INSERT follows. When it
misses (another process or node wrote since, a rollback, the first commit) the head keeps its
hash, RETURNING gives it, and the records are linked from it and the head advanced as before: one
statement more, never a wrong link. The known head is only a guess; what is written is decided by
the row under its lock, as without it.

One statement on PostgreSQL. There the claim also inserts the records (up to 8 of a commit): a
data-modifying CTE reads the claim's RETURNING and inserts them only when it shows the head
advanced to their hash, so after the head is locked and only when they were linked from it. When
the guard misses nothing is inserted, and they are linked again and inserted as above.

Consequences: a record gets its `id`, `seq` and hashes at commit, not at `record()`; `at` is the
moment of `record()`, so `at` may step back by milliseconds between neighbouring seqs. Records
parked inside a savepoint that rolls back are dropped with it.
"""

from __future__ import annotations

import enum
import functools
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, event, insert, select, true, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from bridge.services.audit_anchors import write_anchor
from bridge.services.audit_settings import audit_settings_of
from bridge.storage.audit_hash import GENESIS_HASH, HEAD_ID, link_hash
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor, AuditChainHead, AuditEvent, AuditPersonalDetails

_PENDING = "bridge.audit_pending"
_INSERTED = (
    "at", "event", "outcome", "actor", "subject_staff_id", "organization_id", "address", "details",
    "seq", "prev_hash", "hash",
)


@dataclass(slots=True)
class AuditRecord:
    """One audit record as `record()` parks it: the row of audit_events it becomes at commit, which
    gives it its `id`, `seq` and hashes. A plain value, not an AuditEvent: it never joins the
    session, so the ORM has nothing to track for it."""

    at: datetime
    event: str
    outcome: str
    actor: str
    address: str | None
    subject_staff_id: int | None
    organization_id: int | None
    details: dict[str, Any]
    id: int | None = None
    seq: int = 0  # 0 until linked: seqs start at 1
    prev_hash: str = field(default="")
    hash: str = field(default="")


# What a parked record says about a person's data: (staff id, details), stored beside the record.
Personal = tuple[int, dict[str, Any]]
Parked = tuple[SessionTransaction | None, AuditRecord, Personal | None]

# The head each engine's last audited commit left (seq, hash): a guess the next commit links its
# records from, checked under the head's lock (see the module's docstring).
_known_heads: weakref.WeakKeyDictionary[Engine, tuple[int, str]] = weakref.WeakKeyDictionary()

# Whether the last guess of each engine held, and how many of its audited commits this process is
# linking now: PostgreSQL's claim inserts the records too only when the guess is likely to hold
# (a commit linking meanwhile will move the head first), since a claim that carried them in vain
# costs more than a plain one.
_last_guess_held: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
_in_flight: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_guessing = threading.Lock()

# Session classes whose commits link parked records (a sessionmaker makes a class of its own).
_chained: weakref.WeakSet[type[Session]] = weakref.WeakSet()
_chaining = threading.Lock()


def chain_at_commit(session_class: type[Session]) -> None:
    """Every session of `session_class` links its parked records when it commits.

    The hooks go on the class once rather than on each session (a listener per session costs
    more than the rest of `record()`). Called where a sessionmaker is built (bridge.runtime): adding
    a class's listener while another thread runs that class's hooks is not safe, so `link_at_commit`
    doing it for a class nobody prepared (a test's own sessionmaker) happens at most once."""
    with _chaining:
        if session_class in _chained:
            return
        if not any(base in _chained for base in session_class.__mro__[1:]):
            event.listen(session_class, "before_commit", _link_pending)
            event.listen(session_class, "after_soft_rollback", _drop_rolled_back)
            event.listen(session_class, "after_transaction_end", _drop_unsaved)
        _chained.add(session_class)


def link_at_commit(db: Session, entry: AuditRecord, *, personal: Personal | None = None) -> None:
    """Park `entry`; it is chained and inserted when the session's transaction commits.

    `personal` goes to audit_personal_details right after the record, under the same lock: a row
    only this transaction has, so the chain head stays the last lock anything waits for.
    """
    if type(db) not in _chained:
        chain_at_commit(type(db))
    pending: list[Parked] | None = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
    if db.get_transaction() is None:
        db.connection()  # begin now, so the records end with this transaction however it ends
    pending.append((db.get_nested_transaction(), entry, personal))


def _link_pending(db: Session) -> None:
    if db.in_nested_transaction():
        return  # a savepoint is released: its records wait for the real commit
    pending = db.info.pop(_PENDING, None)
    if not pending:
        return
    db.flush()  # every other change first, so the head is the last lock this transaction takes
    entries = [entry for _, entry, _ in pending]
    connection = db.connection()
    engine = connection.engine
    with _guessing:
        others = _in_flight.get(engine, 0)
        _in_flight[engine] = others + 1
    try:
        last_hash, written = _claim_and_link(db, connection, entries, with_records=not others)
        if written is not _Written.ALL:
            _insert(connection, entries, advance_head_to=None if written is _Written.HEAD else last_hash)
        first_seq, last_seq = entries[0].seq, entries[-1].seq
        _known_heads[engine] = (last_seq, last_hash)
    finally:
        with _guessing:
            _in_flight[engine] -= 1
    beside = [
        {"event_id": entry.id, "staff_id": personal[0], "details": personal[1]}
        for _, entry, personal in pending
        if personal is not None
    ]
    if beside:
        connection.execute(insert(AuditPersonalDetails), beside)
    every = audit_settings_of(db).anchor_every
    if every and last_seq // every > (first_seq - 1) // every:
        write_anchor(db, last_seq, last_hash, AnchorReason.PERIODIC)
        db.flush()


def _link(entries: list[AuditRecord], first_seq: int, prev_hash: str) -> str:
    """Number and hash `entries` as the chain's next records after `prev_hash`: the last hash."""
    for offset, entry in enumerate(entries):
        entry.seq = first_seq + offset
        entry.prev_hash = prev_hash
        entry.hash = prev_hash = link_hash(prev_hash, entry)
    return prev_hash


@functools.cache
def _chain_statements(dialect: str) -> tuple[Any, Any, Any | None]:
    """(insert the records, insert them and advance the head's hash, advance the head's hash):
    built once per dialect, so SQLAlchemy keys them once rather than in every audited commit. On
    PostgreSQL the insert advances the head itself (a CTE) and the third is None; on SQLite the
    second is the plain insert, followed by the third."""
    # Parameter names unlike any column, so none of them also lands in the head's SET clause.
    insert_records = (
        insert(AuditEvent)
        .values({name: bindparam(f"audit_{name}") for name in _INSERTED})
        # Matched back by seq (this transaction's own), not by order: SQLite then inserts every
        # record of the commit in one statement rather than one statement each.
        .returning(AuditEvent.seq, AuditEvent.id)
    )
    advance = update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(hash=bindparam("audit_head"))
    if dialect == "postgresql":
        return insert_records, insert_records.add_cte(advance.cte("advance_head")), None
    return insert_records, insert_records, advance


def _insert(connection: Connection, entries: list[AuditRecord], *, advance_head_to: str | None) -> None:
    """Insert the linked records, and move the head's hash to `advance_head_to` unless the claim
    did: while the head is held, so in as few round trips as can be and without the ORM's unit of
    work."""
    rows = [{f"audit_{name}": getattr(entry, name) for name in _INSERTED} for entry in entries]
    insert_records, insert_and_advance, advance = _chain_statements(connection.dialect.name)
    if advance_head_to is None:
        statement = insert_records
    else:
        statement = insert_and_advance
        for row in rows:
            row["audit_head"] = advance_head_to
    ids = {seq: id_ for seq, id_ in connection.execute(statement, rows)}
    if advance_head_to is not None and advance is not None:
        connection.execute(advance, {"audit_head": advance_head_to})
    assert len(ids) == len(entries)
    for entry in entries:
        entry.id = ids[entry.seq]


def _drop_rolled_back(db: Session, previous: SessionTransaction) -> None:
    pending: list[Parked] | None = db.info.get(_PENDING)
    if not pending:
        return
    if not previous.nested:
        pending.clear()
        return
    pending[:] = [parked for parked in pending if not _within(parked[0], previous)]


def _drop_unsaved(db: Session, transaction: SessionTransaction) -> None:
    """The session's transaction ended without a commit that took them (closed, say)."""
    if transaction.parent is None:
        db.info.pop(_PENDING, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@functools.cache
def _claim_statement() -> Any:
    return (
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(seq=AuditChainHead.seq + bindparam("audit_count"))
        .returning(AuditChainHead.seq, AuditChainHead.hash)
    )


def lock_head(db: Session, count: int = 0) -> tuple[int, str]:
    """Lock the chain head and advance it by `count` seqs: (the head's seq after, its hash before)."""
    claim, parameters = _claim_statement(), {"audit_count": count}
    connection = db.connection()
    row = connection.execute(claim, parameters).one_or_none()
    if row is None:
        _restore_head(db)
        row = connection.execute(claim, parameters).one()
    return row.seq, row.hash


@functools.cache
def _claim_and_advance_statement() -> Any:
    head = AuditChainHead
    known = and_(head.seq == bindparam("audit_known_seq"), head.hash == bindparam("audit_known_hash"))
    return (
        update(head)
        .where(head.id == HEAD_ID)
        .values(
            seq=head.seq + bindparam("audit_count"),
            # Both sides of SET read the row as it was: the guard sees the head before this claim.
            hash=case((known, bindparam("audit_new_hash")), else_=head.hash),
        )
        .returning(head.seq, head.hash)
    )


class _Written(enum.Enum):
    """What the claim wrote besides reserving the seqs."""

    NOTHING = enum.auto()  # the records were linked from the head it found: they and its hash follow
    HEAD = enum.auto()  # the head's hash is the last record's: the records follow
    ALL = enum.auto()  # the head's hash and the records (PostgreSQL): nothing follows


# The most records one commit inserts together with its claim (more take the claim and an insert).
_CLAIMED_WITH_RECORDS = 8


@functools.cache
def _claim_and_insert_statement(count: int) -> Any:
    """PostgreSQL: the claim, and `count` records inserted by the same statement only when the
    claim advanced the head's hash to theirs (a data-modifying CTE reads the claim's RETURNING,
    so the records are inserted after the head is locked, and only when linked from it)."""
    claim = _claim_and_advance_statement().cte("audit_claim")
    columns = AuditEvent.__table__.c
    linked = and_(claim.c.seq == bindparam("audit_last_seq"), claim.c.hash == bindparam("audit_new_hash"))
    records = [
        select(*(bindparam(f"audit_{name}_{number}", type_=columns[name].type) for name in _INSERTED)).where(linked)
        for number in range(count)
    ]
    inserted = (
        insert(AuditEvent)
        .from_select(list(_INSERTED), records[0] if count == 1 else union_all(*records))
        .returning(AuditEvent.seq, AuditEvent.id)
        .cte("audit_inserted")
    )
    return select(
        claim.c.seq, claim.c.hash, inserted.c.seq.label("event_seq"), inserted.c.id.label("event_id")
    ).select_from(claim.outerjoin(inserted, true()))


def _claim_and_link(
    db: Session, connection: Connection, entries: list[AuditRecord], *, with_records: bool
) -> tuple[str, _Written]:
    """Lock the head, reserve a seq for each entry and link them: (the last entry's hash, what the
    claim wrote besides).

    The entries are linked first from the head this process last wrote; the claim moves the head's
    hash to theirs only if the head is still exactly that one (module docstring), and on
    PostgreSQL then inserts them too, unless `with_records` is false (another of this process's
    audited commits is linking) or the engine's last guess missed. Otherwise they are linked
    again, from the head as the lock found it."""
    count = len(entries)
    known = _known_heads.get(connection.engine)
    if known is None:
        parameters = {"audit_known_seq": -1, "audit_known_hash": "", "audit_new_hash": ""}  # never a head
    else:
        known_seq, known_hash = known
        new_hash = _link(entries, known_seq + 1, known_hash)
        parameters = {"audit_known_seq": known_seq, "audit_known_hash": known_hash, "audit_new_hash": new_hash}
    parameters["audit_count"] = count
    engine = connection.engine
    if (
        known is not None and with_records and count <= _CLAIMED_WITH_RECORDS
        and connection.dialect.name == "postgresql" and _last_guess_held.get(engine, True)
    ):
        last_hash, written = _claim_and_insert(db, connection, entries, parameters)
        _last_guess_held[engine] = written is _Written.ALL
        return last_hash, written
    claim = _claim_and_advance_statement()
    row = connection.execute(claim, parameters).one_or_none()
    if row is None:
        _restore_head(db)
        row = connection.execute(claim, parameters).one()
    first_seq = row.seq - count + 1
    if known is None:
        return _link(entries, first_seq, row.hash), _Written.NOTHING
    held = (first_seq, row.hash) == (known[0] + 1, parameters["audit_new_hash"])
    _last_guess_held[engine] = held
    if held:
        return row.hash, _Written.HEAD
    return _link(entries, first_seq, row.hash), _Written.NOTHING


def _claim_and_insert(
    db: Session, connection: Connection, entries: list[AuditRecord], parameters: dict[str, Any]
) -> tuple[str, _Written]:
    """The claim of `_claim_and_link` on PostgreSQL, inserting the entries as linked when it
    advances the head's hash to theirs: one statement for the whole audited commit."""
    count = len(entries)
    parameters["audit_last_seq"] = parameters["audit_known_seq"] + count
    for number, entry in enumerate(entries):
        for name in _INSERTED:
            parameters[f"audit_{name}_{number}"] = getattr(entry, name)
    statement = _claim_and_insert_statement(count)
    result = connection.execute(statement, parameters).all()
    if not result:
        _restore_head(db)
        result = connection.execute(statement, parameters).all()
    head = result[0]
    if head.event_seq is None:  # the head was not the one they were linked from: nothing inserted
        return _link(entries, head.seq - count + 1, head.hash), _Written.NOTHING
    ids = {row.event_seq: row.event_id for row in result}
    assert head.hash == parameters["audit_new_hash"] and len(ids) == count
    for entry in entries:
        entry.id = ids[entry.seq]
    return head.hash, _Written.ALL


def _restore_head(db: Session) -> None:
    """The head row is gone (an empty database's TRUNCATE, or tampering): continue after the
    newest record or anchor, so nothing is overwritten and `bridge audit verify` still sees the gap."""
    newest = db.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, hash_ = (newest.seq, newest.hash) if newest is not None else (0, GENESIS_HASH)
    anchored = db.execute(
        select(AuditAnchor.seq, AuditAnchor.hash).order_by(AuditAnchor.seq.desc()).limit(1)
    ).first()
    if anchored is not None and anchored.seq > seq:
        seq, hash_ = anchored.seq, anchored.hash
    values = {"id": HEAD_ID, "seq": seq, "hash": hash_}
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(postgresql_insert(AuditChainHead).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        db.execute(sqlite_insert(AuditChainHead).values(values).on_conflict_do_nothing())
    else:
        raise RuntimeError(f"no chain head for dialect {dialect!r}")


def anchor_head(db: Session) -> AuditAnchor | None:
    """Sign the chain's head now (`bridge audit anchor`); None while the chain is empty."""
    seq, hash_ = lock_head(db)
    if seq == 0:
        return None
    return write_anchor(db, seq, hash_, AnchorReason.MANUAL)
