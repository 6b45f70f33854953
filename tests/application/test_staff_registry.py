"""register_staff: one transaction, its audit records, a refusal audited and nothing written."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.application.staff_registry import NewStaff, register_staff
from bridge.services.credentials import CredentialStatus, check_issued_credential
from bridge.services.errors import DomainError
from bridge.services.role_grants import RoleGrant
from bridge.storage.database import transaction
from tests.application.conftest import POLICY, as_, audit, refusals
from tests.services.directory import Directory, row_counts


def _deputy(directory: Directory, school: str = "school_a") -> NewStaff:
    return NewStaff(
        surname="Петрова", name="Анна", patronymic="Сергеевна", no_patronymic=False,
        grant=RoleGrant(directory.orgs[school], "school_deputy", date(2024, 9, 1)),
    )


def test_registration_returns_the_card_and_the_password_once(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    registered = register_staff(db_factory, as_(directory, "director_a"), _deputy(directory), POLICY)
    card = registered.staff.card
    assert (card.login, card.full_name, card.credential_status) == (
        "petrova", "Петрова Анна Сергеевна", CredentialStatus.ISSUED
    )
    assert registered.staff.signin_lock is None
    assert "password" not in repr(registered)
    with transaction(db_factory) as db:
        check_issued_credential(db, "petrova", registered.credential.password)
    events = audit(db_factory)
    assert [event.event for event in events] == ["staff.registered", "role.added", "credential.issued"]
    assert {event.actor for event in events} == {directory.logins["director_a"]}


def test_a_refusal_is_audited_and_nothing_is_written(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    before = row_counts(db_factory)
    with pytest.raises(DomainError) as refused:
        register_staff(db_factory, as_(directory, "director_a"), _deputy(directory, "school_b"), POLICY)
    assert refused.value.code == "outside_organization"
    assert row_counts(db_factory) == before
    [event] = audit(db_factory)
    assert (event.event, event.actor, event.organization_id) == (
        "issuance.refused", directory.logins["director_a"], directory.orgs["school_b"]
    )
    assert event.details == {
        "operation": "staff.register", "reason": "outside_organization", "role": "school_deputy"
    }


def test_an_unknown_acting_as_is_the_refusal_of_the_operation(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with pytest.raises(DomainError) as refused:
        register_staff(db_factory, ActingAs("ghost"), _deputy(directory), POLICY)
    assert refused.value.code == "unknown_actor"
    assert refusals(db_factory) == [("staff.register", "unknown_actor")]
    assert audit(db_factory)[0].actor == "ghost"
