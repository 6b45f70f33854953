"""Issued credentials: shown once, stored only hashed, killed by a reset, refused when stale."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from bridge.config import Settings
from bridge.services.actors import cli_support_actor
from bridge.services.credentials import CredentialRefused, check_issued_credential
from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_recovery import reset_password
from bridge.services.signin_sessions import SessionTimeouts, load_active_signin, start_signin_session
from bridge.services.staff import NewStaff, RoleGrant, register_staff
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, ExternalBinding, RefreshToken, StaffMember
from bridge.storage.types import utcnow
from tests.support.browser import TEST_SESSION_KEYS
from tests.support.factories import make_organization, make_staff

TTL = timedelta(days=30)


def _register(factory: sessionmaker[Session]) -> tuple[str, str]:
    with transaction(factory) as db:
        department = make_organization(db, name="УО", kind=OrganizationKind.EDUCATION_DEPARTMENT)
        registration = register_staff(
            db,
            cli_support_actor(),
            NewStaff(
                surname="Новый", name="Пётр", patronymic="Ильич", no_patronymic=False,
                grant=RoleGrant(department.id, Role.EDUCATION_DEPARTMENT.value, date.today()),
            ),
            credential_ttl=TTL,
        )
        return registration.credential.login, registration.credential.password


def test_registration_issues_a_login_from_the_surname_and_a_strong_password(
    db_factory: sessionmaker[Session],
) -> None:
    login, password = _register(db_factory)
    assert login == "novyi"
    assert len(password) >= 12
    with transaction(db_factory) as db:
        staff = check_issued_credential(db, login, password)
        assert staff.credential_expires_at is not None
        assert staff.credential_issued_at is not None
        assert staff.credential_expires_at - staff.credential_issued_at == TTL


def test_password_is_stored_only_as_an_argon2id_hash_and_never_logged(
    db_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    login, password = _register(db_factory)
    with transaction(db_factory) as db:
        new_password = reset_password(db, cli_support_actor(), login, credential_ttl=TTL).credential.password
    with db_factory() as db:
        stored = db.execute(text("SELECT password_hash FROM staff_members WHERE login = :l"), {"l": login}).one()
        assert stored[0].startswith("$argon2id$")
        for row in db.execute(text("SELECT * FROM staff_members")):
            assert password not in str(tuple(row))
            assert new_password not in str(tuple(row))
        for event in db.scalars(select(AuditEvent)):
            assert password not in str(event.details)
            assert new_password not in str(event.details)
    captured = capsys.readouterr()
    for secret in (password, new_password):
        assert secret not in caplog.text
        assert secret not in captured.out + captured.err
    # The audit did log the events themselves, so the check above looked at something.
    assert "credential.reset" in caplog.text


def test_reset_kills_the_old_password_bindings_sessions_and_refresh_tokens(
    db_factory: sessionmaker[Session],
) -> None:
    login, old_password = _register(db_factory)
    with transaction(db_factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test", subject="42",
                               flow="local_first"))
        staff.credential_used_at = utcnow()
        session = start_signin_session(db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["fed"], acr=None,
                                       lifetime=timedelta(hours=1), remember=False).record
        db.add(RefreshToken(token_hash="h" * 64, family="f", client_id="app", staff_id=staff.id,
                            signin_session_id=session.id, scope="openid", auth_time=utcnow(),
                            expires_at=utcnow() + timedelta(days=1)))
        session_id, generation = session.id, staff.session_generation

    with transaction(db_factory) as db:
        new_password = reset_password(db, cli_support_actor(), login, credential_ttl=TTL).credential.password

    with transaction(db_factory) as db:
        with pytest.raises(CredentialRefused) as refused:
            check_issued_credential(db, login, old_password)
        assert refused.value.reason == "wrong_password"
        staff = check_issued_credential(db, login, new_password)
        assert staff.credential_used_at is None
        assert staff.session_generation == generation + 1
        assert db.scalars(select(ExternalBinding)).all() == []
        assert load_active_signin(db, session_id, timeouts=SessionTimeouts.of(Settings())) is None
        token = db.scalars(select(RefreshToken)).one()
        assert token.revoked_at is not None
        events = [event.event for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert "credential.reset" in events
        reset = db.scalars(select(AuditEvent).where(AuditEvent.event == "credential.reset")).one()
        assert reset.details["bindings_removed"] == 1
        assert reset.details["sessions_ended"] == 1
        assert reset.details["tokens_revoked"] == 1


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        ("expired", "expired"),
        ("used", "already_used"),
        ("retired", "already_used"),
        # Bound through a mailed link, never holding a password: what it types is not "wrong".
        ("bound_without_password", "already_used"),
        ("never_issued", "wrong_password"),
        ("blocked", "blocked"),
    ],
)
def test_stale_credentials_are_refused(db_factory: sessionmaker[Session], prepare: str, reason: str) -> None:
    with transaction(db_factory) as db:
        staff = make_staff(db, login="ivanova", password="Secret-pass-1")
        if prepare == "expired":
            staff.credential_expires_at = utcnow() - timedelta(seconds=1)
        elif prepare == "used":
            staff.credential_used_at = utcnow()
        elif prepare == "retired":
            staff.password_hash = None
            db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test",
                                   subject="7", flow="local_first"))
        elif prepare in ("bound_without_password", "never_issued"):
            staff.password_hash = None
            staff.credential_issued_at = staff.credential_expires_at = None
            if prepare == "bound_without_password":
                db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test",
                                       subject="7", flow="activation_link"))
        else:
            staff.status = "blocked"
    with transaction(db_factory) as db, pytest.raises(CredentialRefused) as refused:
        check_issued_credential(db, "ivanova", "Secret-pass-1")
    assert refused.value.reason == reason
    assert refused.value.code == "credential_refused"


def test_expiry_is_judged_at_the_moment_given(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        make_staff(db, login="ivanova", password="Secret-pass-1", credential_ttl=timedelta(days=30))
    later = utcnow() + timedelta(days=31)
    with transaction(db_factory) as db:
        check_issued_credential(db, "ivanova", "Secret-pass-1")
        with pytest.raises(CredentialRefused) as refused:
            check_issued_credential(db, "ivanova", "Secret-pass-1", later)
    assert refused.value.reason == "expired"


def test_unknown_login_and_wrong_password_read_the_same(
    db_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bridge.services import credentials

    verified: list[str | None] = []
    real_verify = credentials.verify_password

    def counting_verify(password_hash: str | None, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(credentials, "verify_password", counting_verify)
    with transaction(db_factory) as db:
        make_staff(db, login="ivanova", password="Secret-pass-1")
    with transaction(db_factory) as db:
        with pytest.raises(CredentialRefused) as unknown:
            check_issued_credential(db, "nobody", "whatever")
        with pytest.raises(CredentialRefused) as wrong:
            check_issued_credential(db, "ivanova", "whatever")
    assert unknown.value.reason == "unknown_login"
    assert wrong.value.reason == "wrong_password"
    assert unknown.value.message == wrong.value.message
    # The unknown login still paid for one full verification (against the dummy hash).
    assert verified == [None, verified[1]] and verified[1] is not None


def test_checking_a_credential_changes_nothing(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        make_staff(db, login="ivanova", password="Secret-pass-1")
    with db_factory() as db:
        before = db.execute(text("SELECT * FROM staff_members")).all()
    with transaction(db_factory) as db:
        check_issued_credential(db, "ivanova", "Secret-pass-1")
        assert not db.dirty and not db.new
    with db_factory() as db:
        assert db.execute(text("SELECT * FROM staff_members")).all() == before
        assert db.scalars(select(AuditEvent)).all() == []


def test_issued_credential_hides_the_password_from_repr(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        department = make_organization(db, kind=OrganizationKind.EDUCATION_DEPARTMENT)
        registration = register_staff(
            db, cli_support_actor(),
            NewStaff("Новый", "Пётр", None, True, RoleGrant(department.id, "education_department", date.today())),
            credential_ttl=TTL, now=datetime.now().astimezone(),
        )
    assert registration.credential.password not in repr(registration.credential)
