"""`bridge purge [--dry-run]`, as cron runs it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.storage.database import transaction
from bridge.storage.models import AuthFlow, OutgoingMail
from bridge.storage.types import utcnow
from tests.services.test_housekeeping import World


def _counts(db_factory: sessionmaker[Session]) -> tuple[int, int]:
    with db_factory() as db:
        return (db.scalar(select(func.count()).select_from(AuthFlow)) or 0,
                db.scalar(select(func.count()).select_from(OutgoingMail)) or 0)


def test_purge_counts_on_a_dry_run_and_deletes_otherwise(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        world = World(db, utcnow())
        for _ in range(3):
            world.flow(expires=-timedelta(days=1))
        world.flow(expires=timedelta(minutes=5))
        world.mail("old", "sent", sent=-timedelta(days=31), next_attempt=-timedelta(days=31))

    code, out, _ = bridge_cli("--json", "purge", "--dry-run")
    result = json.loads(out)
    assert code == 0 and result["dry_run"] is True and result["total"] == 4
    assert result["deletable"]["auth_flows"] == 3 and result["deletable"]["outgoing_mail"] == 1
    assert _counts(db_factory) == (4, 1)

    code, out, _ = bridge_cli("purge")
    assert code == 0 and "Удалено строк: 4." in out and "auth_flows: 3" in out
    assert _counts(db_factory) == (1, 0)


def test_the_batch_size_setting_bounds_each_transaction_and_the_command_still_finishes(
    bridge_cli: Any, db_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(db_factory) as db:
        world = World(db, utcnow())
        for _ in range(5):
            world.flow(expires=-timedelta(days=1))
    monkeypatch.setenv("BRIDGE_PURGE_BATCH_SIZE", "2")
    code, out, _ = bridge_cli("--json", "purge")
    assert code == 0 and json.loads(out)["deleted"]["auth_flows"] == 5
    assert _counts(db_factory) == (0, 0)


def test_a_wrong_setting_stops_the_command_in_one_line(bridge_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_PURGE_BATCH_SIZE", "0")
    code, out, err = bridge_cli("purge")
    assert code == 2 and out == "" and err.count("\n") == 1 and "BRIDGE_PURGE_BATCH_SIZE" in err
