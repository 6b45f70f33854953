"""list_staff and show_staff_card: who sees whom, and a card's sign-in lock."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.application.staff_cards import show_staff_card
from bridge.application.staff_directory import StaffFilter, list_staff
from bridge.services.errors import NotFound, PermissionDenied
from bridge.services.roles import Role
from bridge.services.throttle import reserve_attempt
from bridge.storage.database import transaction
from bridge.storage.models import Organization
from tests.application.conftest import POLICY, SUPPORT, as_, audit
from tests.services.directory import Directory
from tests.support.factories import give_role, make_staff


def test_an_administrator_lists_the_people_below_them(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = list_staff(db_factory, as_(directory, "director_a"), StaffFilter()).rows
    assert [card.login for card in director] == [directory.logins["deputy_a"]]
    department = {card.login for card in list_staff(db_factory, as_(directory, "dept_a"), StaffFilter()).rows}
    assert department == {directory.logins[key] for key in ("director_a", "college_director", "kindergarten_head")}
    everyone = {card.login for card in list_staff(db_factory, SUPPORT, StaffFilter(), page_size=200).rows}
    assert everyone == set(directory.logins.values())


def test_the_surname_search_ignores_case_and_yo(db_factory: sessionmaker[Session], directory: Directory) -> None:
    with transaction(db_factory) as db:
        person = make_staff(db, surname="Семёнова", login="semenova")
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        give_role(db, person, school, Role.SCHOOL_DEPUTY)
    for typed in ("семен", "СЕМЁ", " Семенова "):
        found = list_staff(db_factory, as_(directory, "director_a"), StaffFilter(search=typed)).rows
        assert [card.login for card in found] == ["semenova"], typed
    assert list_staff(db_factory, as_(directory, "director_a"), StaffFilter(search="Иван")).rows == ()


def test_a_card_is_shown_only_to_someone_above_the_person(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    view = show_staff_card(db_factory, as_(directory, "director_a"), directory.logins["deputy_a"], POLICY)
    assert view.card.login == directory.logins["deputy_a"]
    assert [role.role for role in view.card.roles] == [Role.SCHOOL_DEPUTY]
    assert view.signin_lock is None
    with pytest.raises(PermissionDenied) as hidden:
        show_staff_card(db_factory, as_(directory, "director_a"), directory.logins["dept_a"], POLICY)
    assert hidden.value.code == "staff_not_managed"
    with pytest.raises(NotFound):
        show_staff_card(db_factory, SUPPORT, "nobody", POLICY)
    with pytest.raises(NotFound) as ghost:
        show_staff_card(db_factory, ActingAs("ghost"), directory.logins["deputy_a"], POLICY)
    assert ghost.value.code == "unknown_actor"
    # Reading is not an operation: nothing is audited, refused or not.
    assert audit(db_factory) == []


def test_the_card_shows_failed_password_attempts(db_factory: sessionmaker[Session], directory: Directory) -> None:
    login = directory.logins["deputy_a"]
    with transaction(db_factory) as db:
        for _ in range(POLICY.throttle.login_address_budget):
            reserve_attempt(db, login, "192.0.2.7", POLICY.throttle)
    lock = show_staff_card(db_factory, as_(directory, "director_a"), login, POLICY).signin_lock
    assert lock is not None and lock.failures == 5 and lock.exhausted_addresses == 1 and lock.restricts
