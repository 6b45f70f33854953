"""`bridge audit verify | anchor | export | purge`, as an operator runs them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.cli.audit_trail import EXIT_BROKEN
from bridge.config import Settings
from bridge.services import audit, audit_retention
from bridge.services.audit import AuditContext, record
from bridge.services.audit_anchors import write_anchor
from bridge.services.signing_keys import generate_private_jwk
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor, AuditEvent
from bridge.storage.types import utcnow
from tests.support.audit_tamper import as_database_owner
from tests.support.keys import keyring_of

SUPPORT = AuditContext("cli:support")


def write(factory: sessionmaker[Session], count: int, *, days_ago: int = 0) -> None:
    moment = utcnow() - timedelta(days=days_ago)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "utcnow", lambda: moment)
        for number in range(count):
            with factory() as db, db.begin():
                record(db, SUPPORT, "test.event", "success", number=number)


def test_verify_reports_an_intact_log_and_then_the_first_broken_link(
    bridge_cli: Any, db_factory: sessionmaker[Session], engine: Engine
) -> None:
    write(db_factory, 5)
    code, out, _ = bridge_cli("audit", "verify")
    assert code == 0
    assert out.startswith("Журнал аудита цел: записи seq 1–5 (5)") and "Audit trail intact" in out

    as_database_owner(engine, "DELETE FROM audit_events WHERE seq = 3")
    code, out, _ = bridge_cli("audit", "verify")
    assert code == EXIT_BROKEN
    assert out.count("\n") == 1
    assert out.startswith("Журнал аудита нарушен: нет записи seq 3 (между ")
    assert "Audit trail broken: record seq 3 is missing" in out

    code, out, _ = bridge_cli("--json", "audit", "verify")
    assert code == EXIT_BROKEN
    report = json.loads(out)
    assert report["status"] == "broken"
    assert (report["problem"]["kind"], report["problem"]["seq"]) == ("deleted", 3)


def test_anchor_signs_the_head_and_verify_checks_it_against_a_saved_jwks(
    bridge_cli: Any, db_factory: sessionmaker[Session], engine: Engine, tmp_path: Path
) -> None:
    code, _, err = bridge_cli("audit", "anchor")
    assert code == 1 and "пуст" in err
    write(db_factory, 3)
    code, out, _ = bridge_cli("--json", "audit", "anchor")
    assert code == 0
    anchor = json.loads(out)
    assert anchor["seq"] == 3 and anchor["jws"].count(".") == 2
    with db_factory() as db:
        [stored] = db.scalars(select(AuditAnchor)).all()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [stored.public_jwk]}), encoding="utf-8")
    assert bridge_cli("audit", "verify", "--jwks", str(jwks))[0] == 0

    # Someone with the database re-signs the anchor with a key of their own: the saved JWKS says no.
    own = ECKey.import_key(generate_private_jwk("ES256"))
    payload = jws.extract_compact(stored.jws.encode()).payload
    forged = jws.serialize_compact({"alg": "ES256", "kid": stored.kid}, payload, own)
    as_database_owner(
        engine, "UPDATE audit_anchors SET jws = :jws, public_jwk = :jwk",
        jws=forged, jwk=json.dumps(own.as_dict(private=False)),
    )
    assert bridge_cli("audit", "verify")[0] == 0  # consistent within the database...
    code, out, _ = bridge_cli("audit", "verify", "--jwks", str(jwks))
    assert code == EXIT_BROKEN and "fails its signature check" in out  # ...but not with the key kept outside


def test_export_streams_every_record_with_what_a_siem_needs_to_keep_verifying(
    bridge_cli: Any, db_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    write(db_factory, 4)
    with db_factory() as db, db.begin():
        record(db, SUPPORT, "test.tricky", "refused", login="иванова\n,\"x\"", nested={"b": 1, "a": [None]})
    output = tmp_path / "audit.jsonl"
    code, out, _ = bridge_cli("audit", "export", "--format", "jsonl", "--output", str(output))
    assert code == 0 and "Выгружено записей: 5 (seq 1–5)" in out
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[4]["details"] == {"login": "иванова\n,\"x\"", "nested": {"b": 1, "a": [None]}}

    # The receiver recomputes the chain from the documented format alone (docs/security.md).
    prev = "0" * 64
    for line in lines:
        covered = {name: line[name] for name in (
            "seq", "at", "event", "outcome", "actor", "subject_staff_id", "organization_id", "address", "details"
        )}
        canonical = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert line["prev_hash"] == prev
        prev = hashlib.sha256(bytes.fromhex(prev) + canonical).hexdigest()
        assert line["hash"] == prev

    code, out, err = bridge_cli("audit", "export", "--format", "csv", "--after-seq", "3")
    assert code == 0 and "Выгружено записей: 2 (seq 4–5)" in err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["seq"] for row in table] == ["4", "5"]
    assert json.loads(table[1]["details"]) == lines[4]["details"]
    assert table[1]["hash"] == lines[4]["hash"]

    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    code, out, err = bridge_cli("audit", "export", "--since", tomorrow)
    assert code == 0 and out == "" and "Выгружено записей: 0" in err


def test_purge_removes_old_records_behind_a_signed_anchor_and_the_chain_still_verifies(
    bridge_cli: Any, db_factory: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(db_factory, 4, days_ago=400)
    write(db_factory, 2, days_ago=10)
    code, _, err = bridge_cli("audit", "purge")
    assert code == 1 and "BRIDGE_AUDIT_RETENTION_DAYS" in err

    monkeypatch.setenv("BRIDGE_AUDIT_RETENTION_DAYS", "365")
    recent = (utcnow() - timedelta(days=5)).date().isoformat()
    code, _, err = bridge_cli("audit", "purge", "--before", recent)
    assert code == 1 and "моложе 365 дней" in err

    code, out, _ = bridge_cli("--json", "audit", "purge")
    assert code == 0
    result = json.loads(out)
    assert (result["through_seq"], result["deleted"]) == (4, 4)
    with db_factory() as db:
        remaining = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        anchors = db.scalars(select(AuditAnchor)).all()
    assert [event.seq for event in remaining] == [5, 6, 7]
    assert remaining[-1].event == "audit.purged" and remaining[-1].details["through_seq"] == 4
    assert [(anchor.seq, anchor.reason) for anchor in anchors] == [(4, "purge")]
    code, out, _ = bridge_cli("audit", "verify")
    assert code == 0 and "удалены по сроку хранения до seq 4" in out

    # Nothing below the anchor left to remove: a second run changes nothing.
    code, out, _ = bridge_cli("audit", "purge")
    assert code == 0 and "ничего не удалено" in out

    # The triggers still refuse anything younger than the purge anchor.
    as_database_owner(engine, "DELETE FROM audit_events WHERE seq = 6")
    code, out, _ = bridge_cli("audit", "verify")
    assert code == EXIT_BROKEN and "нет записи seq 6" in out


def test_an_interrupted_purge_verifies_and_is_finished_by_running_it_again(
    bridge_cli: Any, db_factory: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    write(db_factory, 6, days_ago=30)
    write(db_factory, 1)
    monkeypatch.setattr(audit_retention, "PURGE_BATCH", 2)
    with engine.begin() as connection:
        # The purge anchor and the first batch went through; the process died before the rest.
        with Session(connection) as db:
            six = db.scalars(select(AuditEvent).where(AuditEvent.seq == 6)).one()
            write_anchor(db, 6, six.hash, AnchorReason.PURGE, keyring=keyring_of(settings))
            db.flush()
        connection.exec_driver_sql("DELETE FROM audit_events WHERE seq <= 2")
    code, out, _ = bridge_cli("audit", "verify")
    assert code == 0, out
    before = (utcnow() - timedelta(days=20)).date().isoformat()
    code, out, _ = bridge_cli("--json", "audit", "purge", "--before", before)
    assert code == 0
    assert json.loads(out)["deleted"] == 4
    with db_factory() as db:
        assert db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == [7]
    assert bridge_cli("audit", "verify")[0] == 0


def test_purge_refuses_to_anchor_a_tampered_log(
    bridge_cli: Any, db_factory: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(db_factory, 3, days_ago=30)
    as_database_owner(engine, "UPDATE audit_events SET actor = 'forged' WHERE seq = 2")
    code, _, err = bridge_cli("audit", "purge", "--before", (utcnow() - timedelta(days=1)).date().isoformat())
    assert code == 1 and "Удалять нельзя" in err and "seq 2" in err
    with db_factory() as db:
        assert db.scalars(select(AuditAnchor)).all() == []
        assert len(db.scalars(select(AuditEvent)).all()) == 3


@pytest.mark.parametrize("command", ["verify", "anchor", "export", "purge"])
def test_the_chain_commands_are_for_technical_support(bridge_cli: Any, command: str) -> None:
    code, _, err = bridge_cli("--acting-as", "ivanova", "audit", command)
    assert code == 1 and "техническая поддержка" in err
