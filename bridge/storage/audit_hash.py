"""The format of a link in the audit hash chain (version 1, fixed for ever: old records are
verified with it, and a SIEM recomputes it from exports).

    hash = SHA-256(bytes.fromhex(prev_hash) || canonical(record))

canonical(record) is the UTF-8 JSON of {seq, at, event, outcome, actor, subject_staff_id,
organization_id, address, details} with sorted keys and no whitespace, `at` as ISO 8601 UTC with
microseconds; the first record's prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS_HASH = "0" * 64
# The one row of audit_chain_head.
HEAD_ID = 1


class ChainedRecord(Protocol):
    """What the hash covers; an AuditEvent, a result row or an exported line all have it."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def event(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def subject_staff_id(self) -> int | None: ...
    @property
    def organization_id(self) -> int | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) makes, with
# its encoder built once: json.dumps builds one per call when given any of these.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    # surrogatepass: a lone surrogate typed into a form must not make a record unhashable.
    return _CANONICAL.encode(value).encode("utf-8", "surrogatepass")


def canonical_record(record: ChainedRecord) -> bytes:
    return canonical_json(
        {
            "seq": record.seq,
            "at": canonical_time(record.at),
            "event": record.event,
            "outcome": record.outcome,
            "actor": record.actor,
            "subject_staff_id": record.subject_staff_id,
            "organization_id": record.organization_id,
            "address": record.address,
            "details": record.details,
        }
    )


def canonical_time(at: datetime) -> str:
    # A record's `at` is UTC already (bridge.storage.types): no conversion to make then.
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat(timespec="microseconds")


def link_hash(prev_hash: str, record: ChainedRecord) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_record(record)).hexdigest()
