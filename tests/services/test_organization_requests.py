"""Requests to add an organization to the registry; the registry's public search."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.organization_requests import (
    ADDRESS_BUDGET,
    OrganizationRequestForm,
    close_organization_request,
    organization_requests,
    submit_organization_request,
)
from bridge.services.organizations import search_registry
from bridge.services.registration_requests import RequestsThrottled
from bridge.storage.database import transaction
from bridge.storage.models import Organization, OrganizationRequest
from tests.services.directory import Directory, build_directory

# Valid ИНН of legal entities (the checksum holds).
INNS = ("7707083893", "7728168971", "7702070139", "7736050003")


@pytest.fixture
def directory(db_factory: sessionmaker[Session]) -> Directory:
    return build_directory(db_factory)


def _submit(
    db_factory: sessionmaker[Session], inn: str = INNS[0], address: str = "203.0.113.7", **changes: str
) -> int | None:
    values = {"name": " Гимназия  № 1 ", "inn": inn, "contact_email": "head@gym.test", **changes}
    with transaction(db_factory) as db:
        filed = submit_organization_request(db, OrganizationRequestForm(**values), address)
        return filed.id if filed is not None else None


def _count(db_factory: sessionmaker[Session]) -> int:
    with db_factory() as db:
        return int(db.scalar(select(func.count()).select_from(OrganizationRequest)) or 0)


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"name": " "}, "organization_name_required"), ({"inn": "1234567890"}, "invalid_inn"),
     ({"contact_email": "head"}, "invalid_email")],
)
def test_wrong_input_files_nothing(db_factory: sessionmaker[Session], changes: dict[str, str], code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _submit(db_factory, **changes)
    assert refused.value.code == code and _count(db_factory) == 0


def test_a_request_is_filed_once_per_inn_and_an_organization_in_the_registry_is_pointed_to(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    assert _submit(db_factory) is not None
    assert _submit(db_factory, address="198.51.100.1") is None
    with transaction(db_factory) as db:
        db.execute(update(Organization).where(Organization.id == directory.orgs["school_a"]).values(inn=INNS[1]))
    with pytest.raises(InvalidInput, match="уже есть в реестре"):
        _submit(db_factory, inn=INNS[1])
    with db_factory() as db:
        [filed] = organization_requests(db)
        assert (filed.name, filed.inn) == ("Гимназия № 1", INNS[0])


def test_one_address_files_a_bounded_number(db_factory: sessionmaker[Session]) -> None:
    for inn in INNS[:ADDRESS_BUDGET]:
        _submit(db_factory, inn=inn)
    with pytest.raises(RequestsThrottled):
        _submit(db_factory, inn=INNS[ADDRESS_BUDGET])
    assert _count(db_factory) == ADDRESS_BUDGET


def test_support_closes_a_request_once(db_factory: sessionmaker[Session]) -> None:
    request_id = _submit(db_factory)
    assert request_id is not None
    with transaction(db_factory) as db:
        closed = close_organization_request(db, request_id, "cli:support", "добавлена №42")
        assert closed.closing_note == "добавлена №42"
    with pytest.raises(Conflict), transaction(db_factory) as db:
        close_organization_request(db, request_id, "cli:support", None)
    with pytest.raises(NotFound), transaction(db_factory) as db:
        close_organization_request(db, 999_999, "cli:support", None)
    with db_factory() as db:
        assert organization_requests(db) == []
        assert [request.id for request in organization_requests(db, include_closed=True)] == [request_id]
    # Closed, the ИНН may be asked for again.
    assert _submit(db_factory, address="198.51.100.2") is not None


def test_the_registry_is_searched_by_words_of_the_name_or_by_inn(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        db.execute(update(Organization).where(Organization.id == directory.orgs["school_a"]).values(inn=INNS[2]))

    def names(query: str) -> list[str]:
        with db_factory() as db:
            # Sorted here: the database's collation orders «№» its own way.
            return sorted(organization.name for organization in search_registry(db, query))

    # Typed in lower case, found whichever way the name writes it.
    assert names("школа") == sorted(
        ["Ленинская школа", "Тестовая школа", "Школа № 2", "Школа старого района"]
    )
    assert names("ТЕСТОВАЯ школа") == ["Тестовая школа"]
    assert names("школа 2") == ["Школа № 2"]
    assert names(INNS[2]) == ["Тестовая школа"]
    assert names(f" {INNS[2][:5]} {INNS[2][5:]} ") == ["Тестовая школа"]
    # Excluded organizations, technical support and wildcards are never listed.
    assert names("Закрытая") == [] and names("Техподдержка") == [] and names("%") == []
    assert names("ромашка") == ["Детский сад «Ромашка»"]
