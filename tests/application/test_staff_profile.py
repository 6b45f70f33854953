"""The person's own workplace data: only they confirm it, required fields, the old address told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.application.staff_profile import (
    ProfileChanges,
    complete_profile,
    save_signed_in_profile,
    show_profile,
    show_signed_in_profile,
    skip_profile,
)
from bridge.config import Settings
from bridge.services.errors import DomainError
from bridge.services.identifiers import formatted_snils
from bridge.services.outbox import MailKind
from bridge.services.phones import formatted_phone, normalized_phone
from bridge.services.signin_sessions import SessionTimeouts, start_signin_session
from bridge.storage.database import transaction
from bridge.storage.models import OutgoingMail, StaffMember
from tests.application.conftest import audit, refusals
from tests.services.directory import Directory
from tests.support.browser import TEST_SESSION_KEYS


def test_only_the_person_confirms_their_own_data(db_factory: sessionmaker[Session], directory: Directory) -> None:
    deputy = directory.logins["deputy_a"]
    for principal in (ActingAs(directory.logins["director_a"]), ActingAs(None)):
        with pytest.raises(DomainError) as refused:
            skip_profile(db_factory, principal, deputy)
        assert refused.value.code == "own_profile_only"
    assert refusals(db_factory) == [("profile.skip", "own_profile_only")] * 2


def test_completing_asks_for_every_position_and_tells_the_old_address(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    deputy = directory.logins["deputy_a"]
    me = ActingAs(deputy)
    profile = show_profile(db_factory, me, deputy)
    assert not profile.complete and [item.position for item in profile.positions] == [None]
    role_id = profile.positions[0].role_assignment_id
    with pytest.raises(DomainError) as refused:
        complete_profile(db_factory, me, deputy, ProfileChanges(positions={}, email="deputy@school.test"))
    assert refused.value.code == "position_required" and "например: учитель математики" in refused.value.message
    with pytest.raises(DomainError) as someone_elses:
        complete_profile(db_factory, me, deputy, ProfileChanges(positions={999_999: "x"}, email="a@b.test"))
    assert someone_elses.value.code == "unknown_role_assignment"

    first = complete_profile(
        db_factory, me, deputy, ProfileChanges(positions={role_id: " завуч  по УВР "}, email="deputy@school.test")
    )
    assert first.profile.complete and first.profile.email_confirmed
    assert first.profile.positions[0].position == "завуч по УВР"
    moved = complete_profile(
        db_factory, me, deputy,
        ProfileChanges(positions={role_id: "завуч по УВР"}, email="new@school.test", phone="+7 (495) 765-43-21"),
    )
    assert moved.changed == ("email", "phone") and moved.profile.phone == "+74957654321"
    with db_factory() as db:
        [letter] = db.scalars(select(OutgoingMail).where(OutgoingMail.kind == MailKind.EMAIL_CHANGED.value)).all()
        assert letter.recipient == "deputy@school.test" and "new@school.test" in letter.text_body
    assert [event.event for event in audit(db_factory) if event.event.startswith("profile.")] == [
        "profile.completed", "profile.completed",
    ]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("8 (495) 123-45-67", "+74951234567"),
        ("+7 495 1234567, доб. 12", "+74951234567;ext=12"),
        ("4951234567", "+74951234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_are_kept_in_e164(typed: str, kept: str) -> None:
    assert normalized_phone(typed) == kept


@pytest.mark.parametrize("typed", ["12-34", "8 495 123", "+7 (495) 123-45-67 звонить после 15", "+1234"])
def test_a_wrong_phone_is_refused_in_russian(typed: str) -> None:
    with pytest.raises(DomainError) as refused:
        normalized_phone(typed)
    assert refused.value.code == "invalid_phone" and "Телефон указан неверно" in refused.value.message


def test_how_pages_write_a_phone_and_a_snils() -> None:
    assert formatted_phone("+74951234567;ext=12") == "+7 495 123-45-67, доб. 12"
    assert formatted_phone(None) == ""
    assert formatted_snils("11223344595") == "112-233-445 95"
    assert formatted_snils(None) == ""


def _signed_in(factory: sessionmaker[Session], login: str) -> str:
    with transaction(factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        return start_signin_session(db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["fed"], acr=None,
                                    lifetime=timedelta(hours=1), remember=False).record.id


def test_the_page_checks_the_session_and_acts_as_its_person_in_one_transaction(
    db_factory: sessionmaker[Session], directory: Directory, settings: Settings
) -> None:
    deputy = directory.logins["deputy_a"]
    timeouts = SessionTimeouts.of(settings)
    assert show_signed_in_profile(db_factory, "no-such-session", timeouts, address=None) is None
    assert save_signed_in_profile(db_factory, "no-such-session", timeouts, None, address=None) is None
    session_id = _signed_in(db_factory, deputy)
    shown = show_signed_in_profile(db_factory, session_id, timeouts, address="10.0.0.1")
    assert shown is not None
    active, profile = shown
    assert active.staff.login == deputy == profile.login and not profile.complete
    # A refusal is audited as the operation's, as the person, after the rollback.
    with pytest.raises(DomainError) as refused:
        save_signed_in_profile(db_factory, session_id, timeouts, None, address="10.0.0.1")
    assert refused.value.code == "profile_incomplete"
    assert refusals(db_factory) == [("profile.skip", "profile_incomplete")]
    role_id = profile.positions[0].role_assignment_id
    saved = save_signed_in_profile(
        db_factory, session_id, timeouts, ProfileChanges(positions={role_id: "завуч"}, email="deputy@school.test"),
        address="10.0.0.1", then=lambda db, roles: [role.position for role in roles or ()],
    )
    # What follows the save gets the roles the save has just read (the app's answer reads none again).
    assert saved is not None and saved[1].profile.complete and saved[1].followed_by == ["завуч"]
