"""Exporting the audit trail for a SIEM: JSON Lines or CSV, streamed in seq order.

Each record carries its seq, prev_hash and hash, and `at` exactly as the hash covers it, so a
receiver can keep verifying the chain itself (the format is in bridge.services.audit_chain) and
notice a gap or a rewrite between two exports. Rows are fetched in batches, never all at once.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bridge.storage.audit_hash import canonical_json, canonical_time
from bridge.storage.models import AuditEvent

EXPORT_FIELDS = (
    "seq", "id", "at", "event", "outcome", "actor", "subject_staff_id", "organization_id", "address",
    "details", "prev_hash", "hash",
)
_ROWS_PER_FETCH = 1000


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@dataclass(frozen=True)
class ExportSummary:
    records: int
    first_seq: int | None
    last_seq: int | None


def export_audit_trail(
    db: Session, out: TextIO, format: ExportFormat, *, since: datetime | None = None, after_seq: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> ExportSummary:
    """`where`: the audit viewer's filter and the reader's subtree (bridge.services.audit_log)."""
    records, first_seq, last_seq = 0, None, None
    if format is ExportFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_FIELDS)
    for record in _records(db, since=since, after_seq=after_seq, where=where):
        if format is ExportFormat.CSV:
            record["details"] = canonical_json(record["details"]).decode("utf-8")
            writer.writerow(record.values())
        else:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        records += 1
        first_seq = record["seq"] if first_seq is None else first_seq
        last_seq = record["seq"]
    return ExportSummary(records, first_seq, last_seq)


def _records(
    db: Session, *, since: datetime | None, after_seq: int | None, where: Sequence[ColumnElement[bool]]
) -> Iterator[dict[str, Any]]:
    query = select(*(getattr(AuditEvent, name) for name in EXPORT_FIELDS)).where(*where).order_by(AuditEvent.seq)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if after_seq is not None:
        query = query.where(AuditEvent.seq > after_seq)
    for row in db.execute(query.execution_options(yield_per=_ROWS_PER_FETCH)):
        record = dict(row._mapping)
        record["at"] = canonical_time(row.at)
        yield record
