"""The rules under the lifecycle: removing a person's data once and only when due, personal audit
details kept out of the log, the credential slip sealed for one browser and taken once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record
from bridge.services.credential_slips import CredentialSlip, SlipOccasion, keep_slip, take_slip
from bridge.services.credentials import IssuedCredential
from bridge.services.staff_lifecycle import remove_due_personal_data, remove_personal_data
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.models import AuditPersonalDetails, AuthFlow, StaffMember
from bridge.storage.types import utcnow
from tests.support.factories import make_staff

BROWSER = "b" * 43
RETENTION = timedelta(days=180)


def test_personal_data_goes_once_only_when_due_and_only_for_the_deactivated(
    db_factory: sessionmaker[Session],
) -> None:
    now = utcnow()
    with transaction(db_factory) as db:
        due = make_staff(db, surname="Ушедшая", snils="11223344595")
        recent = make_staff(db, surname="Недавняя")
        active = make_staff(db, surname="Работающая")
        for staff, deactivated in ((due, now - RETENTION - timedelta(days=1)), (recent, now - timedelta(days=1))):
            staff.status = StaffStatus.DEACTIVATED
            staff.deactivated_at = deactivated
        # Deactivated long ago by the dates, but active again by status (a row edited by hand): kept.
        active.deactivated_at = now - RETENTION * 2
        ids = (due.id, recent.id, active.id)
    with transaction(db_factory) as db:
        assert remove_due_personal_data(db, RETENTION, now, limit=10) == 1
    with transaction(db_factory) as db:
        assert remove_personal_data(db, ids[0], now) is None, "a second worker finds it taken"
        assert remove_personal_data(db, ids[2], now) is None, "an active person is never touched"
    with db_factory() as db:
        gone, kept, working = (db.get(StaffMember, staff_id) for staff_id in ids)
        assert gone is not None and (gone.surname, gone.snils, gone.login) == ("", None, gone.login)
        assert kept is not None and kept.surname == "Недавняя"
        assert working is not None and working.surname == "Работающая"


def test_personal_audit_details_stay_beside_the_record_and_out_of_the_log(
    db_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(db_factory) as db:
        staff_id = make_staff(db).id
        with pytest.raises(ValueError, match="subject_staff_id"):
            record(db, AuditContext("x"), "staff.edited", "success", personal={"surname": "Иванова"})
        with pytest.raises(ValueError, match="secret"):
            record(db, AuditContext("x"), "staff.edited", "success", subject_staff_id=staff_id,
                   personal={"password": "x"})
    with caplog.at_level(logging.INFO, logger="bridge.audit"), transaction(db_factory) as db:
        event = record(db, AuditContext("x"), "staff.edited", "success", subject_staff_id=staff_id,
                       changed=["surname"], personal={"surname": {"old": "Иванова", "new": "Петрова"}})
    event_id = event.id  # a record is chained and inserted at commit (bridge/services/audit_chain.py)
    assert "Петрова" not in caplog.text and "Иванова" not in caplog.text and "'personal': ['surname']" in caplog.text
    with db_factory() as db:
        personal = db.get(AuditPersonalDetails, event_id)
        assert personal is not None and personal.details["surname"]["new"] == "Петрова"


def _slip(staff_id: int) -> CredentialSlip:
    credential = IssuedCredential(login="ivanova", password="Secret-Pass-42", expires_at=utcnow() + timedelta(days=30))
    return CredentialSlip(credential=credential, staff_id=staff_id, full_name="Иванова Мария",
                          occasion=SlipOccasion.RESET, notice="Пароль сброшен.")


def test_a_slip_opens_once_in_its_browser_only(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        staff_id = make_staff(db).id
        slip_id = keep_slip(db, BROWSER, _slip(staff_id))
        stored = db.scalars(select(AuthFlow.data)).one()
    assert "Secret-Pass-42" not in str(stored) and "ivanova" not in str(stored) and "Иванова" not in str(stored)
    with transaction(db_factory) as db:
        assert take_slip(db, "c" * 43, slip_id) is None, "another browser's id"
    with transaction(db_factory) as db:
        taken = take_slip(db, BROWSER, slip_id)
        assert taken is not None and taken.credential.password == "Secret-Pass-42"
        assert taken.occasion is SlipOccasion.RESET and taken.notice == "Пароль сброшен."
    with transaction(db_factory) as db:
        assert take_slip(db, BROWSER, slip_id) is None, "once"
        # A slip id alone, presented by its browser, opens only the slip it names.
        other = keep_slip(db, BROWSER, _slip(staff_id))
        assert take_slip(db, BROWSER, other + "x") is None


def test_a_tampered_or_expired_slip_opens_nothing(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        staff_id = make_staff(db).id
        tampered = keep_slip(db, BROWSER, _slip(staff_id))
        expired = keep_slip(db, BROWSER, _slip(staff_id))
    with transaction(db_factory) as db:
        step = db.scalars(select(AuthFlow).order_by(AuthFlow.id)).first()
        assert step is not None
        sealed = step.data["sealed"]
        db.execute(update(AuthFlow).where(AuthFlow.id == step.id)
                   .values(data={"sealed": sealed[:-4] + ("AAAA" if sealed[-4:] != "AAAA" else "BBBB")}))
        db.execute(update(AuthFlow).where(AuthFlow.id != step.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    with transaction(db_factory) as db:
        assert take_slip(db, BROWSER, tampered) is None
        assert take_slip(db, BROWSER, expired) is None
        assert db.scalars(select(AuthFlow)).all() == []
