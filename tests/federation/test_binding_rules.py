"""The binding rules, enforced by one service in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext
from bridge.services.binding import (
    BindingPolicy,
    BindingRefused,
    create_binding,
    find_bound_person,
    prove_local_credential,
)
from bridge.services.credentials import CredentialRefused
from bridge.services.external_identity import ExternalIdentity
from bridge.storage.models import AuditEvent, ExternalBinding, StaffMember
from bridge.storage.types import utcnow
from tests.support.factories import make_staff

AUDIT = AuditContext(actor="anonymous", address="127.0.0.1")
NO_POLICY = BindingPolicy()
PASSWORD = "Qw7!rtyPass9"


def esia(subject: str = "1000001", **fields: object) -> ExternalIdentity:
    values: dict[str, object] = {
        "surname": "Иванова", "name": "Мария", "patronymic": "Петровна", "snils": "11223344595", "trusted": True,
    }
    values.update(fields)
    return ExternalIdentity(
        provider="esia", issuer="http://esia.test/", subject=subject, provider_kind="esia", **values  # type: ignore[arg-type]
    )


def staff_with_password(db_factory: sessionmaker[Session], **fields: object) -> int:
    with db_factory() as db, db.begin():
        return make_staff(db, password=PASSWORD, **fields).id  # type: ignore[arg-type]


def bind(
    db_factory: sessionmaker[Session], login: str, identity: ExternalIdentity, policy: BindingPolicy = NO_POLICY
) -> None:
    with db_factory() as db, db.begin():
        proof = prove_local_credential(db, login, PASSWORD)
        create_binding(db, AUDIT, proof, identity, policy=policy, flow="external_first")


def login_of(db_factory: sessionmaker[Session], staff_id: int) -> str:
    with db_factory() as db:
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        return staff.login


def test_binding_retires_the_password_for_good(db_factory: sessionmaker[Session]) -> None:
    staff_id = staff_with_password(db_factory)
    login = login_of(db_factory, staff_id)
    bind(db_factory, login, esia())

    with db_factory() as db:
        staff = db.get(StaffMember, staff_id)
        assert staff is not None and staff.password_hash is None and staff.credential_used_at is not None
        assert find_bound_person(db, esia()) is not None
        assert db.scalars(select(AuditEvent.event)).all() == ["binding.created"]
        with pytest.raises(CredentialRefused):
            prove_local_credential(db, login, PASSWORD)


def test_external_identity_bound_to_someone_else_is_refused(db_factory: sessionmaker[Session]) -> None:
    first = login_of(db_factory, staff_with_password(db_factory, surname="Петров", name="Олег"))
    second = login_of(db_factory, staff_with_password(db_factory))
    bind(db_factory, first, esia("777"))

    with pytest.raises(BindingRefused) as refused:
        bind(db_factory, second, esia("777"))
    assert refused.value.code == "identity_bound_to_another"
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == second)).one()
        # Nothing written: the second person's password still works for a proper binding.
        assert staff.password_hash is not None and staff.credential_used_at is None
        assert db.scalar(select(func.count()).select_from(ExternalBinding)) == 1


def test_a_proof_dies_when_the_password_is_reset_in_between(db_factory: sessionmaker[Session]) -> None:
    staff_id = staff_with_password(db_factory)
    with db_factory() as db:
        proof = prove_local_credential(db, login_of(db_factory, staff_id), PASSWORD)
    with db_factory() as db, db.begin():
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        staff.credential_issued_at = utcnow() + timedelta(seconds=1)  # what a reset does

    with pytest.raises(BindingRefused) as refused, db_factory() as db, db.begin():
        create_binding(db, AUDIT, proof, esia(), policy=NO_POLICY, flow="local_first")
    assert refused.value.code == "credential_no_longer_valid"


def test_expired_credential_cannot_bind(db_factory: sessionmaker[Session]) -> None:
    with db_factory() as db, db.begin():
        staff = make_staff(db, password=PASSWORD, credential_ttl=timedelta(seconds=-1))
        login = staff.login
    with pytest.raises(CredentialRefused):
        bind(db_factory, login, esia())


@pytest.mark.parametrize(
    ("policy", "identity", "code"),
    [
        (BindingPolicy(require_confirmed_esia_account=True), esia(trusted=False), "unconfirmed_account"),
        (BindingPolicy(require_name_match=True), esia(surname="Сидорова"), "identity_mismatch"),
        (BindingPolicy(require_name_match=True), esia(snils="99988877766"), "identity_mismatch"),
        (BindingPolicy(require_name_match=True), esia(snils=None), "identity_mismatch"),
    ],
)
def test_policies_refuse_with_a_reason(
    db_factory: sessionmaker[Session], policy: BindingPolicy, identity: ExternalIdentity, code: str
) -> None:
    login = login_of(db_factory, staff_with_password(db_factory, snils="11223344595"))
    with pytest.raises(BindingRefused) as refused:
        bind(db_factory, login, identity, policy)
    assert refused.value.code == code
    assert "администратор" in refused.value.message.lower() or "МФЦ" in refused.value.message


@pytest.mark.parametrize(
    "identity",
    [esia(trusted=True), esia(surname="ИВАНОВА", name="мария"), esia(surname="Иванова", name="Мария")],
)
def test_policies_accept_a_matching_confirmed_person(
    db_factory: sessionmaker[Session], identity: ExternalIdentity
) -> None:
    login = login_of(db_factory, staff_with_password(db_factory, snils="11223344595"))
    bind(db_factory, login, identity, BindingPolicy(require_confirmed_esia_account=True, require_name_match=True))


def test_name_match_treats_yo_as_ye(db_factory: sessionmaker[Session]) -> None:
    login = login_of(db_factory, staff_with_password(db_factory, surname="Семёнова"))
    bind(db_factory, login, esia(surname="Семенова", snils=None), BindingPolicy(require_name_match=True))


def test_a_binding_that_loses_a_race_to_the_same_identity_is_refused_and_writes_nothing(
    db_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first sign-ins of one identity at once: both checks see nothing, the unique index decides.
    The loser is refused as already bound, and its transaction keeps nothing (its password still works)."""
    winner = login_of(db_factory, staff_with_password(db_factory))
    loser_id = staff_with_password(db_factory, surname="Петрова")
    bind(db_factory, winner, esia())

    from bridge.services import binding

    # The check that would have seen the winner's row ran before the winner committed.
    monkeypatch.setattr(binding, "_TAKEN_OR_HELD", binding._TAKEN_OR_HELD.where(ExternalBinding.id < 0))
    with pytest.raises(BindingRefused) as refused:
        bind(db_factory, login_of(db_factory, loser_id), esia())
    assert refused.value.code == "already_bound"
    with db_factory() as db:
        loser = db.get(StaffMember, loser_id)
        assert loser is not None and loser.password_hash is not None and loser.credential_used_at is None
        assert db.scalar(select(func.count()).select_from(ExternalBinding)) == 1
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == "binding.created")) == 1


def test_the_credential_is_judged_as_the_row_lock_finds_it_not_as_the_session_read_it(
    db_factory: sessionmaker[Session], database_url: str
) -> None:
    """The password page's transaction may have read the person already (the administrators'
    alert after repeated failures does); another first sign-in then binds and retires the
    password. The check under the row lock must see that, not the person as first read: one
    issued password binds one identity."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: the other binding cannot commit in between")
    login = login_of(db_factory, staff_with_password(db_factory))
    rsaa = ExternalIdentity(provider="rsaa", issuer="http://rsaa.test/", subject="kuznetsov", surname="Иванова",
                            name="Мария", trusted=True)
    with db_factory() as db, db.begin():
        proof = prove_local_credential(db, login, PASSWORD)
        read_before = db.get(StaffMember, proof.staff_id)  # held: the session's identity map keeps it
        assert read_before is not None and read_before.password_hash is not None
        bind(db_factory, login, rsaa)
        with pytest.raises(BindingRefused) as refused:
            create_binding(db, AUDIT, proof, esia(), policy=NO_POLICY, flow="external_first")
    assert refused.value.code == "credential_no_longer_valid"
    with db_factory() as db:
        assert db.scalars(select(ExternalBinding.provider)).all() == ["rsaa"]
