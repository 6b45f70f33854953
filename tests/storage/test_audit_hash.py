"""The link format of the audit chain is fixed for ever: these hashes were taken with its first
implementation, and any faster one must give the same bytes (old chains verify with it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bridge.services.audit_chain import AuditRecord
from bridge.storage.audit_hash import GENESIS_HASH, canonical_time, link_hash


def test_a_link_hashes_the_bytes_it_always_did() -> None:
    first = AuditRecord(
        at=datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC), event="oidc.token.issued", outcome="success",
        actor="ivanova", address="10.0.0.7", subject_staff_id=7, organization_id=3,
        details={"client_id": "app", "grant_type": "authorization_code", "request_id": "r-1"}, seq=1,
    )
    # Not UTC, nested and unsorted details, non-ASCII, a lone surrogate, floats, nulls.
    second = AuditRecord(
        at=datetime(2026, 3, 1, 15, 30, 5, 0, tzinfo=timezone(timedelta(hours=3))), event="staff.edited",
        outcome="refused", actor="Иванова", address=None, subject_staff_id=None, organization_id=None,
        details={"z": [1, 2.5, None, True], "a": {"b": "Петрова \ud800", "a": ""}, "n": -0.0}, seq=2,
    )
    first_hash = link_hash(GENESIS_HASH, first)
    assert first_hash == "b9797d371ac4c42095349fd0d71e61e6de579254b35159d4f0b2be1112dfc620"
    assert link_hash(first_hash, second) == "6e4f5639e1656ca250fabf370a4f345fe4d5a5ac8310aada87e11186fbc9a991"


def test_times_are_written_in_utc_with_microseconds() -> None:
    moscow = timezone(timedelta(hours=3))
    assert canonical_time(datetime(2026, 3, 1, 15, 0, tzinfo=moscow)) == "2026-03-01T12:00:00.000000+00:00"
    assert canonical_time(datetime(2026, 3, 1, 12, 0, 0, 7, tzinfo=UTC)) == "2026-03-01T12:00:00.000007+00:00"
