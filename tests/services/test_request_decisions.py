"""Deciding registration requests: who gets what, never a password, links that end when they should."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.activation_links import LinkState, check_activation_link, issue_activation_link
from bridge.services.actors import Actor, actor_for_login, cli_support_actor
from bridge.services.audit import AuditContext
from bridge.services.binding import BindingPolicy, LocalProof, create_binding
from bridge.services.credentials import issue_credential, retire_federation
from bridge.services.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from bridge.services.external_identity import ExternalIdentity
from bridge.services.registration_requests import RequestForm, RequestStatus, submit_request
from bridge.services.request_decisions import approve, awaiting_activation, reject, resend_link
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import ActivationLink, AuditEvent, Organization, RegistrationRequest, StaffMember
from bridge.storage.types import utcnow
from tests.services.directory import Directory, build_directory
from tests.support.factories import give_role, make_staff

SUPPORT = AuditContext("cli:support")


@pytest.fixture
def directory(db_factory: sessionmaker[Session]) -> Directory:
    return build_directory(db_factory)


def _file(
    db_factory: sessionmaker[Session], organization_id: int, requested: str = "employee", **changes: object
) -> int:
    values: dict[str, object] = {
        "surname": "Петрова", "name": "Мария", "patronymic": "Ивановна", "no_patronymic": False,
        "organization_id": organization_id, "position": "Учитель", "email": "petrova@school.test",
        "requested": requested,
    }
    values.update(changes)
    with transaction(db_factory) as db:
        filed = submit_request(db, RequestForm(**values), "203.0.113.7")  # type: ignore[arg-type]
        assert filed is not None
        return filed.id


def _actor(db: Session, directory: Directory, key: str) -> Actor:
    return actor_for_login(db, directory.logins[key])


def test_an_approval_registers_the_person_without_a_password_and_issues_one_link(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    request_id = _file(db_factory, directory.orgs["school_a"])
    with transaction(db_factory) as db:
        approval = approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue")
        assert approval.link is not None
        token, staff_id = approval.link.token, approval.staff.id
    with db_factory() as db:
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        assert (staff.surname, staff.name, staff.patronymic, staff.email) == (
            "Петрова", "Мария", "Ивановна", "petrova@school.test"
        )
        assert staff.password_hash is None and staff.credential_issued_at is None
        assert [(role.role, role.organization_id) for role in staff.roles] == [
            ("social_pedagogue", directory.orgs["school_a"])
        ]
        request = db.get(RegistrationRequest, request_id)
        assert request is not None and (request.status, request.staff_id) == (RequestStatus.APPROVED, staff_id)
        assert check_activation_link(db, token).staff_id == staff_id
        events = [event.event for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert events == ["staff.registered", "role.added", "request.approved", "activation.link_issued"]
        assert "credential.issued" not in events
        assert all(token not in str(event.details) for event in db.scalars(select(AuditEvent)))


@pytest.mark.parametrize(
    ("actor", "role", "code"),
    [
        ("director_a", "school_director", "role_not_for_request"),  # a head's role for an employee's request
        ("director_a", "college_deputy", "role_not_for_request"),  # not a role of a school
        ("director_a", "no_such_role", "unknown_role"),
        ("dept_a", "social_pedagogue", "unknown_request"),  # a director's to decide, not the department's
        ("deputy_a", "social_pedagogue", "unknown_request"),
    ],
)
def test_an_approval_gives_only_a_role_that_fits_and_that_the_actor_issues(
    db_factory: sessionmaker[Session], directory: Directory, actor: str, role: str, code: str
) -> None:
    request_id = _file(db_factory, directory.orgs["school_a"])
    with pytest.raises(DomainError) as refused, transaction(db_factory) as db:
        approve(db, _actor(db, directory, actor), request_id, role)
    assert refused.value.code == code
    with db_factory() as db:
        request = db.get(RegistrationRequest, request_id)
        assert request is not None and request.status == RequestStatus.PENDING
        assert db.scalars(select(ActivationLink)).all() == []


def test_a_request_is_decided_once(db_factory: sessionmaker[Session], directory: Directory) -> None:
    request_id = _file(db_factory, directory.orgs["school_a"])
    with transaction(db_factory) as db:
        reject(db, _actor(db, directory, "director_a"), request_id, "  Не работает у нас  ")
    with db_factory() as db:
        request = db.get(RegistrationRequest, request_id)
        assert request is not None and (request.status, request.decision_reason) == (
            RequestStatus.REJECTED, "Не работает у нас"
        )
    for decide in (
        lambda db: approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue"),
        lambda db: reject(db, _actor(db, directory, "director_a"), request_id, "ещё раз"),
    ):
        with pytest.raises(PermissionDenied, match="уже принято решение"), transaction(db_factory) as db:
            decide(db)


def test_a_rejection_needs_a_reason(db_factory: sessionmaker[Session], directory: Directory) -> None:
    request_id = _file(db_factory, directory.orgs["school_a"])
    for reason, code in (("  ", "reason_required"), ("x" * 1001, "reason_too_long")):
        with pytest.raises(InvalidInput) as refused, transaction(db_factory) as db:
            reject(db, _actor(db, directory, "director_a"), request_id, reason)
        assert refused.value.code == code


def test_a_namesake_is_refused_as_on_the_new_staff_form_or_given_the_role_when_named(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        existing = make_staff(db, surname="Петрова", name="Мария", patronymic="Ивановна", login="petrova")
        give_role(db, existing, school, Role.SCHOOL_DEPUTY)
    request_id = _file(db_factory, directory.orgs["school_a"])
    with pytest.raises(Conflict) as duplicate, transaction(db_factory) as db:
        approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue")
    assert duplicate.value.code == "duplicate_person" and duplicate.value.details["login"] == "petrova"
    # Someone else's card cannot take the request's role and link.
    with pytest.raises(InvalidInput) as other, transaction(db_factory) as db:
        approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue",
                existing_login=directory.logins["deputy_a"])
    assert other.value.code == "request_not_this_person"
    with transaction(db_factory) as db:
        approval = approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue",
                           existing_login="petrova")
        assert approval.staff.login == "petrova" and approval.link is not None
        assert sorted(role.role for role in approval.staff.roles) == ["school_deputy", "social_pedagogue"]
        # The role's addition issued no password, although the person never held one.
        assert approval.staff.password_hash is None


def test_a_person_already_bound_gets_the_role_and_no_link(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        existing = make_staff(db, surname="Петрова", name="Мария", patronymic="Ивановна", login="petrova",
                              password="Issued-1234")
        give_role(db, existing, school, Role.SCHOOL_DEPUTY)
        proof = LocalProof(existing.id, existing.credential_issued_at)  # type: ignore[arg-type]
        create_binding(db, SUPPORT, proof, _identity("Петрова", "Мария"), policy=BindingPolicy(), flow="local_first")
    request_id = _file(db_factory, directory.orgs["school_a"])
    with transaction(db_factory) as db:
        approval = approve(db, _actor(db, directory, "director_a"), request_id, "responsible",
                           existing_login="petrova")
        assert approval.link is None
    with db_factory() as db:
        assert db.scalars(select(ActivationLink)).all() == []


def test_a_new_link_revokes_the_old_and_is_refused_when_it_cannot_help(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    request_id = _file(db_factory, directory.orgs["school_a"])
    with transaction(db_factory) as db:
        first = approve(db, _actor(db, directory, "director_a"), request_id, "social_pedagogue")
        assert first.link is not None
        login = first.staff.login
    with transaction(db_factory) as db:
        assert [staff.login for _, staff in awaiting_activation(db, _actor(db, directory, "director_a"))] == [login]
        assert awaiting_activation(db, _actor(db, directory, "dept_a")) == []
        _, second = resend_link(db, _actor(db, directory, "director_a"), login)
        assert check_activation_link(db, first.link.token).state is LinkState.REVOKED
        assert check_activation_link(db, second.token).state is LinkState.USABLE
    # Not the department's person to hand over; nobody's without an e-mail; nobody's once bound.
    with pytest.raises(PermissionDenied) as foreign, transaction(db_factory) as db:
        resend_link(db, _actor(db, directory, "college_director"), login)
    assert foreign.value.code == "staff_not_managed"
    with pytest.raises(InvalidInput) as no_email, transaction(db_factory) as db:
        resend_link(db, _actor(db, directory, "director_a"), directory.logins["deputy_a"])
    assert no_email.value.code == "email_missing"
    with pytest.raises(NotFound), transaction(db_factory) as db:
        resend_link(db, cli_support_actor(), "nobody")


def test_a_password_reset_and_a_password_binding_revoke_unused_links(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        staff = make_staff(db, login="ivanova", password="Issued-1234")
        reset_link = issue_activation_link(db, staff.id, "ivanova@school.test")
        retire_federation(db, staff)
        assert check_activation_link(db, reset_link.token).state is LinkState.REVOKED

        bound_link = issue_activation_link(db, staff.id, "ivanova@school.test")
        issue_credential(db, staff, ttl=timedelta(days=1))
        proof = LocalProof(staff.id, staff.credential_issued_at)  # type: ignore[arg-type]
        create_binding(db, SUPPORT, proof, _identity("Иванова", "Мария"), policy=BindingPolicy(), flow="local_first")
        assert check_activation_link(db, bound_link.token).state is LinkState.REVOKED
        assert staff.credential_used_at is not None and staff.credential_used_at <= utcnow()


def _identity(surname: str, name: str) -> ExternalIdentity:
    return ExternalIdentity(provider="esia", issuer="https://esia.test", subject=f"oid-{surname}",
                            provider_kind="esia", surname=surname, name=name)


def test_a_link_binds_nobody_who_is_bound_already_and_only_a_matching_name(
    db_factory: sessionmaker[Session],
) -> None:
    from bridge.services.activation_links import ActivationProof
    from bridge.services.binding import BindingRefused, create_binding_through_link

    with transaction(db_factory) as db:
        staff = make_staff(db, surname="Иванова", name="Мария", login="ivanova", password="Issued-1234",
                           snils="11223344595")
        proof = LocalProof(staff.id, staff.credential_issued_at)  # type: ignore[arg-type]
        create_binding(db, SUPPORT, proof, _identity("Иванова", "Мария"), policy=BindingPolicy(), flow="local_first")
        # However a usable link came to exist beside the binding, it binds no second account.
        link = issue_activation_link(db, staff.id, "ivanova@school.test")
        rsaa = ExternalIdentity(provider="rsaa", issuer="https://rsaa.test", subject="r-1", surname="Иванова",
                                name="Мария", snils="11223344595")
        with pytest.raises(BindingRefused) as bound:
            create_binding_through_link(db, SUPPORT, ActivationProof(link.link_id, staff.id), rsaa,
                                        policy=BindingPolicy(), flow="activation_link")
        assert bound.value.code == "already_bound"
    with transaction(db_factory) as db:
        other = make_staff(db, surname="Петрова", name="Анна", login="petrova", snils="11223344595"[:-2] + "00")
        link = issue_activation_link(db, other.id, "petrova@school.test")
        # The СНИЛС of the card must match too, when the card has one.
        wrong_snils = ExternalIdentity(provider="esia", issuer="https://esia.test", subject="p-1",
                                       surname="Петрова", name="Анна", snils="11223344595")
        with pytest.raises(BindingRefused) as mismatch:
            create_binding_through_link(db, SUPPORT, ActivationProof(link.link_id, other.id), wrong_snils,
                                        policy=BindingPolicy(), flow="activation_link")
        assert mismatch.value.code == "identity_mismatch"
        assert check_activation_link(db, link.token).state is LinkState.USABLE
