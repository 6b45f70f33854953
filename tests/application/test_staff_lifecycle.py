"""The lifecycle use cases: who may, what each tears down, what is audited and mailed, what is refused."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.role_grants import RoleGrant, add_role, change_role_dates, end_role
from bridge.application.signin_recovery import end_staff_sessions, reset_password, unbind_external_identity
from bridge.application.staff_cards import CardEdit, edit_staff_card, show_staff_card
from bridge.application.staff_lifecycle import block_staff, deactivate_staff, unblock_staff
from bridge.services.activation_links import issue_activation_link
from bridge.services.credentials import CredentialRefused, check_issued_credential
from bridge.services.errors import DomainError
from bridge.services.flow_state import FlowKind, park
from bridge.services.oauth_tokens import RefreshGrant, create_grant, store_refresh_token
from bridge.services.signin_sessions import start_signin_session
from bridge.storage.database import transaction
from bridge.storage.enums import Role, StaffStatus
from bridge.storage.models import (
    ActivationLink,
    AuditPersonalDetails,
    AuthFlow,
    ExternalBinding,
    OAuthGrant,
    Organization,
    OutgoingMail,
    RefreshToken,
    SignInSession,
    StaffMember,
)
from tests.application.conftest import POLICY, SUPPORT, as_, audit, refusals
from tests.services.directory import Directory
from tests.support.browser import TEST_SESSION_KEYS
from tests.support.factories import give_role, make_staff

PASSWORD = "Issued-Pass-1234"


def _staff(db: Session, login: str) -> StaffMember:
    return db.scalars(select(StaffMember).where(StaffMember.login == login)).one()


def _give_everything(factory: sessionmaker[Session], login: str, email: str | None = "director@school.test") -> None:
    """The person signed in twice, with an app's grant, a binding, an activation link, a parked proof."""
    with transaction(factory) as db:
        staff = _staff(db, login)
        staff.email = email
        db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test", subject="e-1",
                               flow="local_first"))
        db.add(ExternalBinding(staff_id=staff.id, provider="rsaa", issuer="https://rsaa.test", subject="r-1",
                               flow="external_first"))
        for _ in range(2):
            session = start_signin_session(db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["fed"],
                                           acr=None, lifetime=timedelta(hours=1), remember=False).record
        family = secrets.token_hex(8)
        create_grant(db, family, client_id="app", staff_id=staff.id, signin_session_id=session.id)
        store_refresh_token(db, secrets.token_urlsafe(16), RefreshGrant(
            family=family, client_id="app", staff_id=staff.id, signin_session_id=session.id, role_assignment_id=None,
            scope="openid", auth_time=session.auth_time,
        ), timedelta(days=1))
        issue_activation_link(db, staff.id, email or "x@school.test")
        park(db, "browser-id-" + "x" * 30, FlowKind.LOCAL_PROOF, {"staff_id": staff.id}, ttl=timedelta(minutes=5),
             staff_id=staff.id)


def _nothing_left_alive(factory: sessionmaker[Session]) -> None:
    """Sessions ended, grants and refresh tokens revoked, activation links revoked, parked steps gone."""
    with factory() as db:
        assert all(row.ended_at is not None for row in db.scalars(select(SignInSession)).all())
        assert all(row.revoked_at is not None for row in db.scalars(select(OAuthGrant)).all())
        assert all(row.revoked_at is not None for row in db.scalars(select(RefreshToken)).all())
        assert all(row.revoked_at is not None for row in db.scalars(select(ActivationLink)).all())
        assert db.scalars(select(AuthFlow)).all() == []


def test_a_block_ends_every_way_in_and_mails_the_reason(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = directory.logins["director_a"]
    _give_everything(db_factory, director)
    blocked = block_staff(db_factory, as_(directory, "dept_a"), director, "  Служебная   проверка ", POLICY)
    access = blocked.access
    assert (access.sessions_ended, access.tokens_revoked, access.links_revoked, access.steps_discarded) == (2, 1, 1, 1)
    card = blocked.staff.card
    assert card.status == StaffStatus.BLOCKED and card.blocked_reason == "Служебная проверка"
    assert card.blocked_by == directory.logins["dept_a"] and len(card.bindings) == 2, "the bindings stay"
    _nothing_left_alive(db_factory)
    with db_factory() as db:
        [mail] = db.scalars(select(OutgoingMail)).all()
        assert (mail.kind, mail.recipient, mail.subject) == ("account_blocked", "director@school.test",
                                                              "Учётная запись заблокирована")
        assert "Причина: Служебная проверка" in mail.text_body
    [event] = [event for event in audit(db_factory) if event.event == "staff.blocked"]
    # The reason is about the person: beside the record, erasable; the record names only counts.
    assert "reason" not in event.details and event.details["sessions_ended"] == 2
    with db_factory() as db:
        personal = db.get(AuditPersonalDetails, event.id)
        assert personal is not None and personal.details == {"reason": "Служебная проверка"}


def test_a_blocked_password_is_refused_and_unblock_gives_it_back(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    reset = reset_password(db_factory, as_(directory, "dept_a"), directory.logins["director_a"], POLICY)
    login, password = reset.credential.login, reset.credential.password
    block_staff(db_factory, as_(directory, "dept_a"), login, "Отпуск", POLICY)
    with transaction(db_factory) as db, pytest.raises(CredentialRefused) as refused:
        check_issued_credential(db, login, password)
    assert refused.value.reason == "blocked"
    unblocked = unblock_staff(db_factory, as_(directory, "dept_a"), login, POLICY)
    assert unblocked.staff.card.status == StaffStatus.ACTIVE and unblocked.staff.card.blocked_reason is None
    with transaction(db_factory) as db:
        check_issued_credential(db, login, password)


def test_block_and_unblock_refusals(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = directory.logins["director_a"]
    cases = [
        (lambda: block_staff(db_factory, as_(directory, "dept_a"), director, "   ", POLICY), "reason_required"),
        (lambda: block_staff(db_factory, as_(directory, "dept_a"), director, "x" * 501, POLICY), "reason_too_long"),
        # The director cannot block the department above, nor herself.
        (lambda: block_staff(db_factory, as_(directory, "director_a"), directory.logins["dept_a"], "x", POLICY),
         "staff_not_managed"),
        (lambda: block_staff(db_factory, as_(directory, "director_a"), director, "x", POLICY), "staff_not_managed"),
        (lambda: unblock_staff(db_factory, as_(directory, "dept_a"), director, POLICY), "not_blocked"),
    ]
    for attempt, code in cases:
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == code
    block_staff(db_factory, as_(directory, "dept_a"), director, "Проверка", POLICY)
    with pytest.raises(DomainError) as again:
        block_staff(db_factory, as_(directory, "dept_a"), director, "Проверка", POLICY)
    assert again.value.code == "already_blocked"
    assert [reason for operation, reason in refusals(db_factory)] == [
        "reason_required", "reason_too_long", "staff_not_managed", "staff_not_managed", "not_blocked", "already_blocked"
    ]
    # A blocked administrator cannot act at the CLI either.
    with pytest.raises(DomainError) as acting:
        show_staff_card(db_factory, as_(directory, "director_a"), directory.logins["deputy_a"], POLICY)
    assert acting.value.code == "actor_blocked"


def test_a_deactivation_is_final_and_tells_when_the_data_goes(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = directory.logins["director_a"]
    _give_everything(db_factory, director)
    deactivated = deactivate_staff(db_factory, as_(directory, "dept_a"), director, "person_asked", POLICY)
    view = deactivated.staff
    assert view.card.status == StaffStatus.DEACTIVATED
    assert view.card.deactivation_reason_title == "по просьбе сотрудника"
    assert view.card.deactivated_at is not None
    assert view.personal_data_removal_due == view.card.deactivated_at + timedelta(days=180)
    _nothing_left_alive(db_factory)
    with db_factory() as db:
        assert _staff(db, director).password_hash is None
        [mail] = db.scalars(select(OutgoingMail)).all()
        assert mail.kind == "account_deactivated" and "по просьбе сотрудника" in mail.text_body
        assert "будут удалены" in mail.text_body
    # Nothing can be given back or changed any more.
    attempts = {
        "reset": lambda: reset_password(db_factory, as_(directory, "dept_a"), director, POLICY),
        "block": lambda: block_staff(db_factory, as_(directory, "dept_a"), director, "x", POLICY),
        "unblock": lambda: unblock_staff(db_factory, as_(directory, "dept_a"), director, POLICY),
        "again": lambda: deactivate_staff(db_factory, as_(directory, "dept_a"), director, "left", POLICY),
        "edit": lambda: edit_staff_card(db_factory, as_(directory, "dept_a"), director,
                                        CardEdit(surname="Новая"), POLICY),
        "add_role": lambda: add_role(db_factory, as_(directory, "dept_a"), director,
                                     RoleGrant(directory.orgs["school_a2"], "school_director", date.today()), POLICY),
    }
    for name, attempt in attempts.items():
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "staff_deactivated", name
    with pytest.raises(DomainError) as unknown:
        deactivate_staff(db_factory, as_(directory, "dept_a"), directory.logins["college_director"], "fired", POLICY)
    assert unknown.value.code == "unknown_reason"


def test_an_edit_audits_old_and_new_beside_the_record(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = directory.logins["director_a"]
    edit = CardEdit("Админова-Новая", "Админ", "Петровна", False, email="a@school.test",
                    phone="8 (916) 123-45-67", note="  кабинет   12 ")
    # A CLI-style edit names only what changes; the rest stays.
    assert edit_staff_card(db_factory, as_(directory, "dept_a"), director, CardEdit(), POLICY).changed == ()
    saved = edit_staff_card(db_factory, as_(directory, "dept_a"), director, edit, POLICY)
    assert saved.changed == ("surname", "email", "phone", "note")
    card = saved.staff.card
    assert card.full_name == "Админова-Новая Админ Петровна"
    assert (card.phone, card.note) == ("+79161234567", "кабинет 12")  # E.164; pages and the CLI format it
    [event] = [event for event in audit(db_factory) if event.event == "staff.edited"]
    assert event.details == {"login": director, "changed": list(saved.changed)}
    with db_factory() as db:
        personal = db.get(AuditPersonalDetails, event.id)
        assert personal is not None
        assert personal.details["surname"] == {"old": "Админов4", "new": "Админова-Новая"}
        assert personal.details["phone"] == {"old": None, "new": "+79161234567"}
    # The same values again: nothing changes, nothing is audited.
    again = edit_staff_card(db_factory, as_(directory, "dept_a"), director, edit, POLICY)
    assert again.changed == ()
    assert [event.event for event in audit(db_factory)].count("staff.edited") == 1


@pytest.mark.parametrize(("edit", "code"), [
    (CardEdit(surname=""), "surname_required"),
    (CardEdit(patronymic="Петровна", no_patronymic=True), "patronymic_conflict"),
    (CardEdit(patronymic="", no_patronymic=False), "patronymic_required"),
    (CardEdit(surname="И" * 201), "name_too_long"),
    (CardEdit(email="не почта"), "invalid_email"),
    (CardEdit(phone="12345"), "invalid_phone"),
    (CardEdit(note="x" * 2001), "note_too_long"),
])
def test_a_bad_edit_is_refused_and_changes_nothing(
    db_factory: sessionmaker[Session], directory: Directory, edit: CardEdit, code: str
) -> None:
    director = directory.logins["director_a"]
    with pytest.raises(DomainError) as refused:
        edit_staff_card(db_factory, as_(directory, "dept_a"), director, edit, POLICY)
    assert refused.value.code == code
    with db_factory() as db:
        assert _staff(db, director).surname == "Админов4"
    assert refusals(db_factory) == [("staff.edit", code)]


def test_a_role_is_ended_or_redated_by_whoever_may_issue_it(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    deputy = directory.logins["deputy_a"]
    role_id = show_staff_card(db_factory, SUPPORT, deputy, POLICY).card.roles[0].id
    today = date.today()
    ended = end_role(db_factory, as_(directory, "director_a"), deputy, role_id, today, POLICY)
    assert ended.changed and ended.role.end_date == today and ended.role.active, "inclusive: still today"
    with pytest.raises(DomainError) as later:
        end_role(db_factory, as_(directory, "director_a"), deputy, role_id, today + timedelta(days=3), POLICY)
    assert later.value.code == "role_already_ends"
    redated = change_role_dates(db_factory, as_(directory, "director_a"), deputy, role_id,
                                today - timedelta(days=10), None, POLICY)
    assert redated.changed and redated.role.end_date is None
    same = change_role_dates(db_factory, as_(directory, "director_a"), deputy, role_id,
                             today - timedelta(days=10), None, POLICY)
    assert not same.changed
    events = [event for event in audit(db_factory) if event.event.startswith("role.")]
    assert [(event.event, event.details["end_date"]) for event in events] == [
        ("role.ended", [None, today.isoformat()]), ("role.dates_changed", [today.isoformat(), None]),
    ]

    with transaction(db_factory) as db:
        # Director and deputy of one school: the department issues the first role, the director the second.
        both = make_staff(db, surname="Двуролева", login="dvuroleva")
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        headship = give_role(db, both, school, Role.SCHOOL_DIRECTOR).id
        give_role(db, both, school, Role.SCHOOL_DEPUTY)
    refused_cases = {
        "role_not_managed": lambda: end_role(db_factory, as_(directory, "director_a"), "dvuroleva", headship, today,
                                             POLICY),
        "staff_not_managed": lambda: end_role(db_factory, as_(directory, "dept_a"), deputy, role_id, today, POLICY),
        "end_before_start": lambda: change_role_dates(db_factory, as_(directory, "director_a"), deputy, role_id,
                                                      today, today - timedelta(days=1), POLICY),
        "unknown_role_assignment": lambda: end_role(db_factory, as_(directory, "director_a"), deputy, 999_999,
                                                    today, POLICY),
    }
    for code, attempt in refused_cases.items():
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == code


def test_redating_onto_the_same_role_is_refused(db_factory: sessionmaker[Session], directory: Directory) -> None:
    deputy = directory.logins["deputy_a"]
    first = show_staff_card(db_factory, SUPPORT, deputy, POLICY).card.roles[0]
    today = date.today()
    end_role(db_factory, as_(directory, "director_a"), deputy, first.id, today, POLICY)
    later = add_role(db_factory, as_(directory, "director_a"), deputy,
                     RoleGrant(directory.orgs["school_a"], "school_deputy", today + timedelta(days=30)), POLICY)
    with pytest.raises(DomainError) as refused:
        change_role_dates(db_factory, as_(directory, "director_a"), deputy, later.role.id, today, None, POLICY)
    assert refused.value.code == "duplicate_role"


def test_unbind_removes_one_provider_keeps_the_password_and_mails(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = directory.logins["director_a"]
    _give_everything(db_factory, director)
    unbound = unbind_external_identity(db_factory, as_(directory, "dept_a"), director, "esia", POLICY)
    assert [binding.provider for binding in unbound.staff.card.bindings] == ["rsaa"]
    assert unbound.sessions.sessions_ended == 2 and unbound.sessions.tokens_revoked == 1
    with db_factory() as db:
        [mail] = db.scalars(select(OutgoingMail)).all()
        assert mail.kind == "binding_removed" and "Госуслуги (ЕСИА)" in mail.subject
    with pytest.raises(DomainError) as missing:
        unbind_external_identity(db_factory, as_(directory, "dept_a"), director, "esia", POLICY)
    assert missing.value.code == "unknown_binding"
    [event] = [event for event in audit(db_factory) if event.event == "binding.removed"]
    assert event.details["provider"] == "esia"


def test_end_sessions_ends_sessions_and_grants_only(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = directory.logins["director_a"]
    _give_everything(db_factory, director, email=None)
    ended = end_staff_sessions(db_factory, as_(directory, "dept_a"), director, POLICY)
    assert (ended.sessions.sessions_ended, ended.sessions.tokens_revoked) == (2, 1)
    with db_factory() as db:
        assert len(db.scalars(select(ExternalBinding)).all()) == 2
        assert db.scalars(select(OutgoingMail)).all() == [], "no address, no letter"
        assert len(db.scalars(select(AuthFlow)).all()) == 1, "a parked proof is not a session"
    with transaction(db_factory) as db:
        db.execute(update(StaffMember).values(email=None))
    with pytest.raises(DomainError) as refused:
        end_staff_sessions(db_factory, as_(directory, "director_a"), directory.logins["dept_a"], POLICY)
    assert refused.value.code == "staff_not_managed"
