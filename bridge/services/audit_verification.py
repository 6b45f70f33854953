"""Checking the audit chain: recompute it and name the first broken link.

What each tamper leaves behind:
- UPDATE of a record: its content no longer gives its hash (`altered`); if the attacker also
  re-hashed it, the next record's prev_hash no longer matches (`relinked`); if they re-hashed
  everything after it, the hash at the next anchor differs from what was signed (`anchor_mismatch`).
- DELETE in the middle: a seq is missing (`deleted`) — seqs are gapless by construction.
- DELETE of the oldest records: the chain starts after seq 1 without a purge anchor covering the
  gap (`deleted`).
- DELETE of the newest records, TRUNCATE: the chain head or a signed anchor reaches a seq beyond
  the last record (`tail_deleted`, `truncated`).
- A forged or edited anchor: its signature or payload fails (`anchor_forged`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.services.audit_anchors import AnchorSummary, check_anchor
from bridge.storage.audit_hash import GENESIS_HASH, HEAD_ID, link_hash
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor, AuditChainHead, AuditEvent

_ROWS_PER_FETCH = 1000


class BreakKind(StrEnum):
    DELETED = "deleted"
    ALTERED = "altered"
    RELINKED = "relinked"
    TAIL_DELETED = "tail_deleted"
    TRUNCATED = "truncated"
    ANCHOR_FORGED = "anchor_forged"
    ANCHOR_MISMATCH = "anchor_mismatch"
    HEAD_MISMATCH = "head_mismatch"


@dataclass(frozen=True)
class ChainBreak:
    kind: BreakKind
    seq: int
    at: datetime | None
    russian: str
    english: str

    def line(self) -> str:
        return f"Журнал аудита нарушен: {self.russian} / Audit trail broken: {self.english}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "seq": self.seq, "at": self.at.isoformat() if self.at else None,
            "message": self.line(),
        }


@dataclass(frozen=True)
class ChainReport:
    first_seq: int | None
    last_seq: int | None
    records: int
    anchors: int
    last_anchor: AnchorSummary | None
    last_purge: AnchorSummary | None
    problem: ChainBreak | None

    @property
    def purged_through(self) -> int:
        return self.last_purge.seq if self.last_purge is not None else 0

    @property
    def intact(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.problem is not None:
            return self.problem.line()
        span = f"seq {self.first_seq}–{self.last_seq}" if self.records else "—"
        anchor = self.last_anchor
        ru_anchor = f", последний — seq {anchor.seq} от {_when(anchor.created_at)}" if anchor else ""
        en_anchor = f", the last at seq {anchor.seq} of {_when(anchor.created_at)}" if anchor else ""
        purge = self.last_purge
        ru_purged = en_purged = ""
        if purge is not None:
            ru_purged = f"; удалены по сроку хранения до seq {purge.seq} (якорь от {_when(purge.created_at)})"
            en_purged = f"; purged through seq {purge.seq} (anchor of {_when(purge.created_at)})"
        return (
            f"Журнал аудита цел: записи {span} ({self.records}), якорей: {self.anchors}{ru_anchor}{ru_purged} / "
            f"Audit trail intact: records {span} ({self.records}), {self.anchors} anchors{en_anchor}{en_purged}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "intact" if self.intact else "broken",
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "records": self.records,
            "anchors": self.anchors,
            "last_anchor": None if self.last_anchor is None else {
                "seq": self.last_anchor.seq, "hash": self.last_anchor.hash,
                "created_at": self.last_anchor.created_at.isoformat(), "kid": self.last_anchor.kid,
            },
            "purged_through": self.purged_through,
            "problem": None if self.problem is None else self.problem.as_json(),
            "message": self.line(),
        }


def verify_chain(
    db: Session,
    *,
    trusted_keys: Mapping[str, Mapping[str, Any]] | None = None,
    from_last_anchor: bool = False,
    through_seq: int | None = None,
) -> ChainReport:
    """Recompute the chain from its first record (or from the newest anchor it reaches, when
    `from_last_anchor`) up to the end (or `through_seq`), and check every anchor's signature.

    Writers go on meanwhile. An anchor is written under the head's lock and never beyond it, and
    the head moves in the transaction that inserts its records; so reading the anchors, then the
    head, then the records up to the head's seq sees one consistent chain even when each read
    has a snapshot of its own (READ COMMITTED, SQLite). Later records wait for the next check."""
    anchors = list(db.scalars(select(AuditAnchor).order_by(AuditAnchor.seq, AuditAnchor.id)))
    head = db.get(AuditChainHead, HEAD_ID)
    if through_seq is None and head is not None:
        through_seq, check_end = head.seq, True
    else:
        check_end = through_seq is None
    checks = [check_anchor(anchor, trusted_keys) for anchor in anchors]
    forged = next((_anchor_forged(check.anchor, check.problem) for check in checks if check.problem), None)
    valid = [check.anchor for check in checks if check.valid]
    by_seq: dict[int, list[AuditAnchor]] = {}
    for anchor in valid:
        by_seq.setdefault(anchor.seq, []).append(anchor)
    last_purge = max(
        (a for a in valid if a.reason == AnchorReason.PURGE.value), key=lambda a: (a.seq, a.id), default=None
    )
    purged_through = last_purge.seq if last_purge is not None else 0

    start: AuditAnchor | None = None
    if from_last_anchor:
        bounds = db.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))).one()
        if bounds[0] is not None:
            reachable = [a for a in valid if bounds[0] - 1 <= a.seq <= bounds[1]]
            start = max(reachable, key=lambda anchor: (anchor.seq, anchor.id), default=None)

    walk = _walk(db, by_seq, purged_through, start, through_seq)
    problem = walk.problem
    if problem is None and check_end:
        problem = _check_end(db, walk, valid, head)
    if forged is not None and (problem is None or forged.seq <= problem.seq):
        problem = forged
    return ChainReport(
        first_seq=walk.first_seq,
        last_seq=walk.last_seq,
        records=walk.records,
        anchors=len(valid),
        last_anchor=_summary(max(valid, key=lambda anchor: (anchor.seq, anchor.id), default=None)),
        last_purge=_summary(last_purge),
        problem=problem,
    )


@dataclass
class _Walk:
    first_seq: int | None = None
    last_seq: int | None = None
    last_at: datetime | None = None
    running: str = GENESIS_HASH
    records: int = 0
    problem: ChainBreak | None = None


def _walk(
    db: Session, by_seq: dict[int, list[AuditAnchor]], purged_through: int,
    start: AuditAnchor | None, through_seq: int | None,
) -> _Walk:
    walk = _Walk()
    query = select(
        AuditEvent.seq, AuditEvent.at, AuditEvent.event, AuditEvent.outcome, AuditEvent.actor,
        AuditEvent.subject_staff_id, AuditEvent.organization_id, AuditEvent.address, AuditEvent.details,
        AuditEvent.prev_hash, AuditEvent.hash,
    ).order_by(AuditEvent.seq)
    if start is not None:
        query = query.where(AuditEvent.seq > start.seq)
        walk.last_seq, walk.running = start.seq, start.hash
    if through_seq is not None:
        query = query.where(AuditEvent.seq <= through_seq)
    expected = walk.last_seq + 1 if walk.last_seq is not None else None
    for row in db.execute(query.execution_options(yield_per=_ROWS_PER_FETCH)):
        if expected is None:
            # The very first record: seq 1, or the first after a purge anchor that covers the rest.
            if row.seq == 1:
                walk.running = GENESIS_HASH
            elif row.seq - 1 <= purged_through:
                walk.running = row.prev_hash
            else:
                walk.problem = _deleted(purged_through + 1, row.seq - 1, None, row.at)
                return walk
            expected = row.seq
            walk.first_seq = row.seq
            for anchor in by_seq.get(row.seq - 1, []):
                if anchor.hash != row.prev_hash:
                    walk.problem = _anchor_mismatch(anchor, row.seq - 1)
                    return walk
        elif walk.first_seq is None:
            walk.first_seq = row.seq
        if row.seq != expected:
            walk.problem = _deleted(expected, row.seq - 1, walk.last_at, row.at)
            return walk
        if row.prev_hash != walk.running:
            walk.problem = _relinked(row.seq, row.at)
            return walk
        if link_hash(walk.running, row) != row.hash:
            walk.problem = _altered(row.seq, row.at)
            return walk
        for anchor in by_seq.get(row.seq, []):
            if anchor.hash != row.hash:
                walk.problem = _anchor_mismatch(anchor, row.seq)
                return walk
        walk.running = row.hash
        walk.last_seq, walk.last_at = row.seq, row.at
        walk.records += 1
        expected += 1
    if walk.last_seq is None:
        walk.last_seq = purged_through
    return walk


def _check_end(db: Session, walk: _Walk, anchors: list[AuditAnchor], head: AuditChainHead | None) -> ChainBreak | None:
    last_seq = walk.last_seq or 0
    claims = [(anchor.seq, f"подписанный якорь от {_when(anchor.created_at)}",
               f"the signed anchor of {_when(anchor.created_at)}") for anchor in anchors]
    if head is not None:
        claims.append((head.seq, "голова цепочки", "the chain head"))
    beyond = max(claims, default=None, key=lambda claim: claim[0])
    if beyond is not None and beyond[0] > last_seq:
        reached, by_ru, by_en = beyond
        if db.scalar(select(AuditEvent.seq).limit(1)) is None:
            return ChainBreak(
                BreakKind.TRUNCATED, last_seq + 1, None,
                f"записей нет после seq {last_seq}, а {by_ru} доходит до seq {reached}: журнал очищен (TRUNCATE)",
                f"there are no records after seq {last_seq}, yet {by_en} reaches seq {reached}: "
                "the log was emptied (TRUNCATE)",
            )
        return ChainBreak(
            BreakKind.TAIL_DELETED, last_seq + 1, walk.last_at,
            f"после seq {last_seq} ({_when(walk.last_at)}) записей нет, а {by_ru} доходит до seq {reached}: "
            "последние записи удалены (DELETE)",
            f"there are no records after seq {last_seq} ({_when(walk.last_at)}), yet {by_en} reaches "
            f"seq {reached}: the newest records were deleted (DELETE)",
        )
    if head is None:
        return ChainBreak(
            BreakKind.HEAD_MISMATCH, last_seq, walk.last_at,
            "строки головы цепочки (audit_chain_head) нет: она удалена",
            "the chain head row (audit_chain_head) is missing: it was deleted",
        )
    if head.seq != last_seq or head.hash != walk.running:
        return ChainBreak(
            BreakKind.HEAD_MISMATCH, head.seq, walk.last_at,
            f"голова цепочки (seq {head.seq}) не совпадает с последней записью (seq {last_seq}): "
            "голова или последние записи изменены",
            f"the chain head (seq {head.seq}) does not match the last record (seq {last_seq}): "
            "the head or the newest records were changed",
        )
    return None


def _deleted(first: int, last: int, after: datetime | None, before: datetime) -> ChainBreak:
    when_ru = f"между {_when(after)} и {_when(before)}" if after else f"до {_when(before)}"
    when_en = f"between {_when(after)} and {_when(before)}" if after else f"before {_when(before)}"
    if first == last:
        russian = f"нет записи seq {first} ({when_ru}): удалена (DELETE)"
        english = f"record seq {first} is missing ({when_en}): deleted (DELETE)"
    else:
        russian = f"нет записей seq {first}–{last} ({when_ru}): удалены (DELETE)"
        english = f"records seq {first}–{last} are missing ({when_en}): deleted (DELETE)"
    return ChainBreak(BreakKind.DELETED, first, after or before, russian, english)


def _altered(seq: int, at: datetime) -> ChainBreak:
    return ChainBreak(
        BreakKind.ALTERED, seq, at,
        f"запись seq {seq} от {_when(at)} не совпадает со своим хешем: изменена (UPDATE)",
        f"record seq {seq} of {_when(at)} does not match its hash: changed (UPDATE)",
    )


def _relinked(seq: int, at: datetime) -> ChainBreak:
    return ChainBreak(
        BreakKind.RELINKED, seq, at,
        f"запись seq {seq} от {_when(at)} ссылается не на хеш записи seq {seq - 1}: предыдущая запись "
        "изменена и перехеширована, или эта подменена (UPDATE)",
        f"record seq {seq} of {_when(at)} does not link to the hash of seq {seq - 1}: the record before "
        "was changed and re-hashed, or this one replaced (UPDATE)",
    )


def _anchor_mismatch(anchor: AuditAnchor, seq: int) -> ChainBreak:
    return ChainBreak(
        BreakKind.ANCHOR_MISMATCH, seq, anchor.created_at,
        f"хеш цепочки на seq {seq} не совпадает с подписанным якорем от {_when(anchor.created_at)}: "
        "записи до него переписаны",
        f"the chain's hash at seq {seq} differs from the signed anchor of {_when(anchor.created_at)}: "
        "the records up to it were rewritten",
    )


def _anchor_forged(anchor: AuditAnchor, problem: str | None) -> ChainBreak:
    return ChainBreak(
        BreakKind.ANCHOR_FORGED, anchor.seq, anchor.created_at,
        f"якорь seq {anchor.seq} от {_when(anchor.created_at)} не проходит проверку подписи ({problem})",
        f"the anchor at seq {anchor.seq} of {_when(anchor.created_at)} fails its signature check ({problem})",
    )


def _summary(anchor: AuditAnchor | None) -> AnchorSummary | None:
    return AnchorSummary.of(anchor) if anchor is not None else None


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "—"
