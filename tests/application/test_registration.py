"""The registration use cases: one transaction with its mail, refusals audited, nothing personal audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.organization_requests import close_organization_request, list_organization_requests
from bridge.application.registration import (
    ActivationLinks,
    OrganizationRequestForm,
    RequestForm,
    approve_request,
    find_organizations,
    list_awaiting_activation,
    list_pending_requests,
    reject_request,
    resend_activation,
    submit_organization_request,
    submit_registration_request,
)
from bridge.services.activation_links import LinkState, check_activation_link
from bridge.services.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from bridge.services.registration_requests import ADDRESS_BUDGET, RequestsThrottled
from bridge.storage.models import OutgoingMail, StaffMember
from tests.application.conftest import SUPPORT, as_, audit, refusals
from tests.services.directory import Directory, row_counts

LINKS = ActivationLinks("https://bridge.example/activate")
LINK = re.compile(r"https://bridge\.example/activate\?token=([A-Za-z0-9_\-]+)")


def _form(directory: Directory, school: str = "school_a", **changes: object) -> RequestForm:
    values: dict[str, object] = {
        "surname": "Петрова", "name": "Мария", "patronymic": "Ивановна", "no_patronymic": False,
        "organization_id": directory.orgs[school], "position": "Учитель", "email": "petrova@school.test",
        "requested": "employee",
    }
    values.update(changes)
    return RequestForm(**values)  # type: ignore[arg-type]


def _mail(factory: sessionmaker[Session]) -> list[OutgoingMail]:
    with factory() as db:
        found = list(db.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))
        db.expunge_all()
        return found


def _pending_id(factory: sessionmaker[Session], directory: Directory, key: str = "director_a") -> int:
    [view] = list_pending_requests(factory, as_(directory, key))
    return view.id


def test_a_request_is_audited_without_personal_data_and_a_spent_budget_is_audited_too(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    submit_registration_request(db_factory, "203.0.113.7", _form(directory))
    submit_registration_request(db_factory, "203.0.113.7", _form(directory))  # the same again
    [first, again] = audit(db_factory)
    assert (first.event, first.actor, first.address, first.organization_id) == (
        "request.submitted", "anonymous", "203.0.113.7", directory.orgs["school_a"]
    )
    assert (first.details["repeated"], again.details["repeated"]) == (False, True)
    assert "Петрова" not in str(first.details) and "petrova@" not in str(first.details)
    # Plainly wrong input is not audited (it costs the bridge nothing).
    with pytest.raises(InvalidInput):
        submit_registration_request(db_factory, "203.0.113.7", _form(directory, email="petrova"))
    with pytest.raises(NotFound):
        submit_registration_request(db_factory, "203.0.113.7", _form(directory, "school_excluded"))
    assert len(audit(db_factory)) == 2
    for number in range(ADDRESS_BUDGET - 2):
        submit_registration_request(db_factory, "203.0.113.7", _form(directory, email=f"p{number}@school.test"))
    with pytest.raises(RequestsThrottled):
        submit_registration_request(db_factory, "203.0.113.7", _form(directory, email="late@school.test"))
    throttled = audit(db_factory)[-1]
    assert (throttled.event, throttled.outcome, throttled.details["form"]) == ("request.throttled", "refused",
                                                                                "registration")


def test_an_approval_mails_the_link_and_nobody_else_sees_it(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    submit_registration_request(db_factory, "203.0.113.7", _form(directory))
    [view] = list_pending_requests(db_factory, as_(directory, "director_a"))
    assert [role.value for role, _ in view.roles] == ["school_deputy", "social_pedagogue", "responsible"]
    assert (view.full_name, view.requested_title, view.namesake_login) == (
        "Петрова Мария Ивановна", "Сотрудник", None
    )
    approved = approve_request(db_factory, as_(directory, "director_a"), view.id, "social_pedagogue", LINKS)
    assert "token" not in repr(approved) and approved.link_expires_at is not None
    [letter] = _mail(db_factory)
    assert (letter.kind, letter.recipient, letter.subject) == (
        "request_approved", "petrova@school.test", "Заявка на подключение одобрена"
    )
    [token] = LINK.findall(letter.text_body)
    assert LINK.search(letter.html_body) and "Социальный педагог" in letter.text_body
    with db_factory() as db:
        assert check_activation_link(db, token).state is LinkState.USABLE
    assert all(token not in str(event.details) for event in audit(db_factory))
    [waiting] = list_awaiting_activation(db_factory, as_(directory, "director_a"))
    assert (waiting.login, waiting.email) == (approved.login, "petrova@school.test")
    with db_factory() as db:
        # The position written on the request is the role's: the profile page does not ask for it again.
        person = db.scalars(select(StaffMember).where(StaffMember.login == approved.login)).one()
        assert [role.position for role in person.roles] == ["Учитель"]

    resend_activation(db_factory, as_(directory, "director_a"), approved.login, LINKS)
    [_, resent] = _mail(db_factory)
    assert resent.kind == "activation_link"
    [newer] = LINK.findall(resent.text_body)
    with db_factory() as db:
        assert check_activation_link(db, token).state is LinkState.REVOKED
        assert check_activation_link(db, newer).state is LinkState.USABLE


def test_a_refused_decision_is_audited_writes_nothing_and_mails_nobody(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    submit_registration_request(db_factory, "203.0.113.7", _form(directory))
    request_id = _pending_id(db_factory, directory)
    before = row_counts(db_factory)
    with pytest.raises(NotFound) as foreign:
        approve_request(db_factory, as_(directory, "dept_a"), request_id, "social_pedagogue", LINKS)
    with pytest.raises(NotFound) as missing:
        reject_request(db_factory, as_(directory, "director_a"), 999_999, "нет")
    assert foreign.value.message == missing.value.message
    with pytest.raises(DomainError):
        approve_request(db_factory, as_(directory, "director_a"), request_id, "school_director", LINKS)
    assert row_counts(db_factory) == before
    assert refusals(db_factory)[-3:] == [
        ("request.approve", "unknown_request"), ("request.reject", "unknown_request"),
        ("request.approve", "role_not_for_request"),
    ]


def test_a_rejection_mails_the_reason(db_factory: sessionmaker[Session], directory: Directory) -> None:
    submit_registration_request(db_factory, "203.0.113.7", _form(directory))
    request_id = _pending_id(db_factory, directory)
    reject_request(db_factory, as_(directory, "director_a"), request_id, "Не работает у нас")
    [letter] = _mail(db_factory)
    assert (letter.kind, letter.subject) == ("request_rejected", "Заявка на подключение отклонена")
    assert "Не работает у нас" in letter.text_body and "Мария Ивановна" in letter.text_body
    assert not LINK.search(letter.text_body)
    assert list_pending_requests(db_factory, as_(directory, "director_a")) == ()


def test_the_public_search_and_organization_requests(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    assert find_organizations(db_factory, "шк") == ()  # too short to search
    assert "Тестовая школа" in [found.name for found in find_organizations(db_factory, "тестовая")]
    submit_organization_request(
        db_factory, "203.0.113.7", OrganizationRequestForm("Гимназия № 1", "7707083893", "head@gym.test")
    )
    [filed] = list_organization_requests(db_factory, SUPPORT)
    with pytest.raises(PermissionDenied):
        list_organization_requests(db_factory, as_(directory, "dept_a"))
    with pytest.raises(PermissionDenied):
        close_organization_request(db_factory, as_(directory, "dept_a"), filed.id, None)
    closed = close_organization_request(db_factory, SUPPORT, filed.id, "добавлена")
    assert closed.closed_by == "cli:support" and list_organization_requests(db_factory, SUPPORT) == ()
    assert [event.event for event in audit(db_factory)][-2:] == ["issuance.refused", "organization_request.closed"]
