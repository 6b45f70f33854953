"""Registration requests: validated, throttled before anything is filed, decided along the hierarchy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.actors import actor_for_login
from bridge.services.errors import DomainError, InvalidInput, NotFound
from bridge.services.registration_requests import (
    ADDRESS_BUDGET,
    RequestForm,
    RequestsThrottled,
    decidable_request,
    pending_requests,
    submit_request,
)
from bridge.storage.database import transaction
from bridge.storage.models import RegistrationRequest
from tests.services.directory import Directory, build_directory


@pytest.fixture
def directory(db_factory: sessionmaker[Session]) -> Directory:
    return build_directory(db_factory)


def _form(organization_id: int | None, requested: str = "employee", **changes: object) -> RequestForm:
    values: dict[str, object] = {
        "surname": " Петрова ", "name": "Мария", "patronymic": "Ивановна", "no_patronymic": False,
        "organization_id": organization_id, "position": "Учитель математики", "email": "petrova@school.test",
        "requested": requested,
    }
    values.update(changes)
    return RequestForm(**values)  # type: ignore[arg-type]


def _submit(db_factory: sessionmaker[Session], form: RequestForm, address: str = "203.0.113.7") -> int | None:
    with transaction(db_factory) as db:
        filed = submit_request(db, form, address)
        return filed.id if filed is not None else None


def _count(db_factory: sessionmaker[Session]) -> int:
    with db_factory() as db:
        return int(db.scalar(select(func.count()).select_from(RegistrationRequest)) or 0)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"surname": "  "}, "name_required"),
        ({"patronymic": None}, "patronymic_required"),
        ({"no_patronymic": True}, "patronymic_conflict"),
        ({"position": ""}, "position_required"),
        ({"email": "petrova at school"}, "invalid_email"),
        ({"requested": "boss"}, "requested_position_required"),
    ],
)
def test_wrong_input_is_refused_with_a_russian_message_and_files_nothing(
    db_factory: sessionmaker[Session], directory: Directory, changes: dict[str, object], code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _submit(db_factory, _form(directory.orgs["school_a"], **changes))
    assert refused.value.code == code and refused.value.message
    assert _count(db_factory) == 0


def test_an_organization_out_of_the_registry_is_refused_with_the_way_to_add_it(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    for organization_id in (None, 999_999, directory.orgs["school_excluded"]):
        with pytest.raises(NotFound, match="заявку на включение организации"):
            _submit(db_factory, _form(organization_id))
    with pytest.raises(InvalidInput, match="сотрудников не выдаются"):
        _submit(db_factory, _form(directory.orgs["kindergarten_a"], "employee"))


def test_a_repeated_request_files_nothing_new_and_answers_the_same(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    assert _submit(db_factory, _form(directory.orgs["school_a"])) is not None
    assert _submit(db_factory, _form(directory.orgs["school_a"])) is None
    assert _count(db_factory) == 1


def test_one_address_files_a_bounded_number_of_requests(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    for number in range(ADDRESS_BUDGET):
        _submit(db_factory, _form(directory.orgs["school_a"], email=f"p{number}@school.test"))
    with pytest.raises(RequestsThrottled):
        _submit(db_factory, _form(directory.orgs["school_a"], email="late@school.test"))
    # Another address still may (the budget is the address's, not everybody's).
    assert _submit(db_factory, _form(directory.orgs["school_a"], email="late@school.test"), "198.51.100.1")
    assert _count(db_factory) == ADDRESS_BUDGET + 1


def test_requests_reach_exactly_the_administrators_who_may_issue_the_role(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    employee = _submit(db_factory, _form(directory.orgs["school_a"], "employee"))
    head = _submit(db_factory, _form(directory.orgs["school_a"], "head", email="head@school.test"))
    other_district = _submit(db_factory, _form(directory.orgs["school_b"], "head", email="b@school.test"),
                             "198.51.100.2")
    expected = {
        "director_a": [employee],  # the school's employees are the director's to issue
        "dept_a": [head],  # its head is the district department's
        "deputy_a": [],
        "college_director": [],
        "preschool": [],
    }
    with db_factory() as db:
        for key, ids in expected.items():
            actor = actor_for_login(db, directory.logins[key])
            assert [request.id for request in pending_requests(db, actor)] == ids, key
    # Deciding another district's request reads exactly like deciding a request that does not exist.
    with db_factory() as db:
        director = actor_for_login(db, directory.logins["director_a"])
        with pytest.raises(NotFound) as foreign:
            decidable_request(db, director, other_district or 0)
        with pytest.raises(NotFound) as missing:
            decidable_request(db, director, 999_999)
        assert foreign.value.message == missing.value.message
        assert decidable_request(db, director, employee or 0).id == employee
        with pytest.raises(DomainError):
            decidable_request(db, actor_for_login(db, directory.logins["dept_a"]), employee or 0)
