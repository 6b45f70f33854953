"""Old requests lose the applicant's personal data in housekeeping; pending ones never do.

The columns are read back after `purge_until_done` and after `bridge purge`: what a person would
find in the database, not what the function reports.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.housekeeping import RetentionPolicy, count_purgeable, purge_until_done
from bridge.services.request_retention import ORGANIZATION_REQUESTS, REGISTRATION_REQUESTS
from bridge.storage.database import transaction
from bridge.storage.models import OrganizationRequest, RegistrationRequest
from bridge.storage.types import utcnow
from tests.support.factories import make_organization

POLICY = RetentionPolicy(request_retention=timedelta(days=90))
PERSONAL = ("Кузнецов", "Андрей", "Николаевич", "учитель физики", "kuznetsov@school.test")


def _request(db: Session, organization_id: int, status: str, *, created: datetime, decided: datetime | None) -> int:
    request = RegistrationRequest(
        surname="Кузнецов", name="Андрей", patronymic="Николаевич", no_patronymic=False,
        organization_id=organization_id, position="учитель физики", email="kuznetsov@school.test",
        requested="employee", status=status, created_at=created, decided_at=decided,
        decision_reason="Кузнецов у нас не работает" if status == "rejected" else None,
    )
    db.add(request)
    db.flush()
    return request.id


def _organization_request(db: Session, *, closed: datetime | None) -> int:
    request = OrganizationRequest(
        name="ИП Кузнецов Андрей Николаевич", inn="7728168971", contact_email="kuznetsov@school.test",
        created_at=utcnow() - timedelta(days=400), closed_at=closed, closed_by="support" if closed else None,
        closing_note="Кузнецову ответили по телефону" if closed else None,
    )
    db.add(request)
    db.flush()
    return request.id


@pytest.fixture
def requests(db_factory: sessionmaker[Session]) -> dict[str, int]:
    now = utcnow()
    long_ago, lately = now - timedelta(days=120), now - timedelta(days=10)
    with transaction(db_factory) as db:
        school = make_organization(db).id
        return {
            "rejected_long_ago": _request(db, school, "rejected", created=long_ago, decided=long_ago),
            "approved_long_ago": _request(db, school, "approved", created=long_ago, decided=long_ago),
            # Filed long ago, decided lately: the retention counts from the decision.
            "decided_lately": _request(db, school, "rejected", created=long_ago, decided=lately),
            "pending_long_ago": _request(db, school, "pending", created=now - timedelta(days=365), decided=None),
            "closed_long_ago": _organization_request(db, closed=long_ago),
            "closed_lately": _organization_request(db, closed=lately),
            "open": _organization_request(db, closed=None),
        }


def _registration_columns(db_factory: sessionmaker[Session], request_id: int) -> tuple[Any, ...]:
    with db_factory() as db:
        request = db.get(RegistrationRequest, request_id)
        assert request is not None
        return (request.surname, request.name, request.patronymic, request.position, request.email,
                request.decision_reason, request.status, request.organization_id is not None)


def _organization_columns(db_factory: sessionmaker[Session], request_id: int) -> tuple[Any, ...]:
    with db_factory() as db:
        request = db.get(OrganizationRequest, request_id)
        assert request is not None
        return request.name, request.contact_email, request.closing_note, request.inn


def _anything_personal(db_factory: sessionmaker[Session], request_ids: list[int]) -> bool:
    with db_factory() as db:
        rows = db.scalars(select(RegistrationRequest).where(RegistrationRequest.id.in_(request_ids))).all()
        text = json.dumps([[row.surname, row.name, row.patronymic, row.position, row.email, row.decision_reason]
                           for row in rows], ensure_ascii=False)
    return any(value in text for value in PERSONAL)


def test_decided_and_closed_requests_lose_personal_data_after_the_retention(
    db_factory: sessionmaker[Session], requests: dict[str, int]
) -> None:
    assert count_purgeable(db_factory, POLICY).counts[REGISTRATION_REQUESTS] == 2
    report = purge_until_done(db_factory, POLICY, batch_size=1)
    assert report.counts[REGISTRATION_REQUESTS] == 2 and report.counts[ORGANIZATION_REQUESTS] == 1

    for key, status in (("rejected_long_ago", "rejected"), ("approved_long_ago", "approved")):
        assert _registration_columns(db_factory, requests[key]) == ("", "", None, "", "", None, status, True)
    assert not _anything_personal(db_factory, [requests["rejected_long_ago"], requests["approved_long_ago"]])
    # The pending request waits for its decision, however old; the lately decided one is kept.
    for key in ("pending_long_ago", "decided_lately"):
        assert _registration_columns(db_factory, requests[key])[:5] == (
            "Кузнецов", "Андрей", "Николаевич", "учитель физики", "kuznetsov@school.test"
        )
    assert _organization_columns(db_factory, requests["closed_long_ago"]) == ("", "", None, "7728168971")
    for key in ("closed_lately", "open"):
        assert _organization_columns(db_factory, requests[key])[:2] == (
            "ИП Кузнецов Андрей Николаевич", "kuznetsov@school.test"
        )
    # Nothing is left to do: a second purge blanks nothing again.
    again = purge_until_done(db_factory, POLICY, batch_size=10)
    assert again.counts[REGISTRATION_REQUESTS] == again.counts[ORGANIZATION_REQUESTS] == 0


def test_bridge_purge_counts_on_a_dry_run_and_honours_the_retention_setting(
    bridge_cli: Any, db_factory: sessionmaker[Session], requests: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = bridge_cli("--json", "purge", "--dry-run")
    deletable = json.loads(out)["deletable"]
    assert code == 0 and deletable[REGISTRATION_REQUESTS] == 2 and deletable[ORGANIZATION_REQUESTS] == 1
    assert _registration_columns(db_factory, requests["rejected_long_ago"])[0] == "Кузнецов"

    # A shorter retention reaches the lately decided ones too; never the pending or the open one.
    monkeypatch.setenv("BRIDGE_REQUEST_RETENTION_DAYS", "7")
    code, out, _ = bridge_cli("purge")
    assert code == 0 and f"{REGISTRATION_REQUESTS}: 3" in out and f"{ORGANIZATION_REQUESTS}: 2" in out
    assert _registration_columns(db_factory, requests["decided_lately"])[:5] == ("", "", None, "", "")
    assert _registration_columns(db_factory, requests["pending_long_ago"])[0] == "Кузнецов"
    assert _organization_columns(db_factory, requests["open"])[1] == "kuznetsov@school.test"


def test_a_wrong_retention_setting_stops_the_command(bridge_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_REQUEST_RETENTION_DAYS", "0")
    code, _, err = bridge_cli("purge")
    assert code == 2 and "BRIDGE_REQUEST_RETENTION_DAYS" in err
