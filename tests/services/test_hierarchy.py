"""The issuing hierarchy of the seed, case by case: who may give which role where."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.actors import Actor, actor_for_login, cli_support_actor
from bridge.services.errors import DomainError
from bridge.services.hierarchy import issuable_organizations, issuable_roles, offerable_roles
from bridge.services.roles import Role
from bridge.services.staff import NewStaff, RoleGrant, register_staff
from bridge.storage.database import transaction
from bridge.storage.models import Organization
from tests.services.directory import build_directory
from tests.support.factories import give_role, make_organization, make_staff

TTL = timedelta(days=30)

# (actor, role to issue, organization, expected refusal code or None for "allowed")
CASES = [
    # Technical support: the two department roles, anywhere.
    ("cli", Role.EDUCATION_DEPARTMENT, "dept_a", None),
    ("cli", Role.EDUCATION_DEPARTMENT, "dept_b", None),
    ("cli", Role.PRESCHOOL_DEPARTMENT, "preschool", None),
    ("cli", Role.PRESCHOOL_DEPARTMENT, "dept_a", None),
    ("support_staff", Role.EDUCATION_DEPARTMENT, "dept_b", None),
    # The operator at the command line starts the hierarchy: technical support's own accounts.
    ("cli", Role.SUPPORT, "support", None),
    ("cli", Role.SUPPORT, "dept_a", "role_not_for_organization_kind"),
    # Support on the pages does not: one support account never mints another.
    ("support_staff", Role.SUPPORT, "support", "role_not_permitted"),
    ("cli", Role.SCHOOL_DIRECTOR, "school_a", "role_not_permitted"),
    ("cli", Role.SCHOOL_DEPUTY, "school_a", "role_not_permitted"),
    ("cli", Role.EDUCATION_DEPARTMENT, "school_a", "role_not_for_organization_kind"),
    ("cli", Role.EDUCATION_DEPARTMENT, "dept_excluded", "organization_inactive"),
    # A department: directors and heads of the organizations under it.
    ("dept_a", Role.SCHOOL_DIRECTOR, "school_a", None),
    ("dept_a", Role.COLLEGE_DIRECTOR, "college_a", None),
    ("dept_a", Role.KINDERGARTEN_HEAD, "kindergarten_a", None),
    ("dept_a", Role.SCHOOL_DIRECTOR, "school_b", "outside_district"),
    ("dept_a", Role.KINDERGARTEN_HEAD, "kindergarten_p", "outside_district"),
    ("dept_a", Role.SCHOOL_DIRECTOR, "college_a", "role_not_for_organization_kind"),
    ("dept_a", Role.COLLEGE_DIRECTOR, "school_a", "role_not_for_organization_kind"),
    ("dept_a", Role.SCHOOL_DEPUTY, "school_a", "role_not_permitted"),
    ("dept_a", Role.EDUCATION_DEPARTMENT, "dept_a", "role_not_permitted"),
    ("dept_a", Role.SCHOOL_DIRECTOR, "school_excluded", "organization_inactive"),
    ("preschool", Role.KINDERGARTEN_HEAD, "kindergarten_p", None),
    ("preschool", Role.KINDERGARTEN_HEAD, "kindergarten_a", "outside_district"),
    ("preschool", Role.SCHOOL_DIRECTOR, "school_a", "role_not_permitted"),
    ("dept_excluded", Role.SCHOOL_DIRECTOR, "school_under_excluded", "actor_organization_inactive"),
    # A director or head: the subordinate roles of their own organization.
    ("director_a", Role.SCHOOL_DEPUTY, "school_a", None),
    ("director_a", Role.SOCIAL_PEDAGOGUE, "school_a", None),
    ("director_a", Role.RESPONSIBLE, "school_a", None),
    ("director_a", Role.SCHOOL_DEPUTY, "school_a2", "outside_organization"),
    ("director_a", Role.SCHOOL_DEPUTY, "school_b", "outside_organization"),
    ("director_a", Role.COLLEGE_DEPUTY, "school_a", "role_not_for_organization_kind"),
    ("director_a", Role.SCHOOL_DIRECTOR, "school_a", "role_not_permitted"),
    ("college_director", Role.COLLEGE_DEPUTY, "college_a", None),
    ("college_director", Role.SOCIAL_PEDAGOGUE, "college_a", None),
    ("college_director", Role.SCHOOL_DEPUTY, "college_a", "role_not_for_organization_kind"),
    # Roles that issue nothing.
    ("kindergarten_head", Role.SCHOOL_DEPUTY, "school_a", "role_not_permitted"),
    ("deputy_a", Role.SOCIAL_PEDAGOGUE, "school_a", "role_not_permitted"),
]


def _actor(db: Session, logins: dict[str, str], key: str) -> Actor:
    return cli_support_actor() if key == "cli" else actor_for_login(db, logins[key])


def _person(role: Role, organization_id: int) -> NewStaff:
    return NewStaff(
        surname="Новый", name="Сотрудник", patronymic=None, no_patronymic=True,
        grant=RoleGrant(organization_id=organization_id, role=role.value, start_date=date.today()),
    )


@pytest.mark.parametrize(("actor_key", "role", "org_key", "refusal"), CASES)
def test_who_may_issue_what_where(
    db_factory: sessionmaker[Session], actor_key: str, role: Role, org_key: str, refusal: str | None
) -> None:
    directory = build_directory(db_factory)
    try:
        with transaction(db_factory) as db:
            actor = _actor(db, directory.logins, actor_key)
            registration = register_staff(
                db, actor, _person(role, directory.orgs[org_key]), credential_ttl=TTL
            )
            login = registration.staff.login
    except DomainError as error:
        assert refusal is not None, f"refused unexpectedly: {error.code}: {error.message}"
        assert error.code == refusal
        assert error.message  # a Russian sentence for the person
        return
    assert refusal is None, f"allowed, expected {refusal}"
    assert login.startswith("novyi")


def test_a_role_that_ended_gives_no_powers(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        school = make_organization(db)
        former = make_staff(db, login="former_director")
        give_role(
            db, former, school, Role.SCHOOL_DIRECTOR,
            start=date.today() - timedelta(days=60), end=date.today() - timedelta(days=1),
        )
    with transaction(db_factory) as db, pytest.raises(DomainError) as refused:
        actor_for_login(db, "former_director")
    assert refused.value.code == "actor_has_no_active_role"


def test_a_role_that_has_not_started_gives_no_powers(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        school = make_organization(db)
        future = make_staff(db, login="future_director")
        give_role(db, future, school, Role.SCHOOL_DIRECTOR, start=date.today() + timedelta(days=1))
    with transaction(db_factory) as db, pytest.raises(DomainError) as refused:
        actor_for_login(db, "future_director")
    assert refused.value.code == "actor_has_no_active_role"


def test_a_person_with_two_roles_may_use_either(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    with transaction(db_factory) as db:
        staff = make_staff(db, login="two_hats")
        give_role(db, staff, db.get_one(Organization, directory.orgs["school_a2"]), Role.SCHOOL_DEPUTY)
        give_role(db, staff, db.get_one(Organization, directory.orgs["school_a"]), Role.SCHOOL_DIRECTOR)
    with transaction(db_factory) as db:
        actor = actor_for_login(db, "two_hats")
        registration = register_staff(db, actor, _person(Role.RESPONSIBLE, directory.orgs["school_a"]),
                                      credential_ttl=TTL)
        assert registration.role.organization_id == directory.orgs["school_a"]


def test_selects_offer_only_what_the_actor_may_issue(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    with transaction(db_factory) as db:
        department = actor_for_login(db, directory.logins["dept_a"])
        director = actor_for_login(db, directory.logins["director_a"])
        support = cli_support_actor()
        assert issuable_roles(department) == [
            Role.SCHOOL_DIRECTOR, Role.COLLEGE_DIRECTOR, Role.KINDERGARTEN_HEAD
        ]
        assert {org.id for org in issuable_organizations(db, department)} == {
            directory.orgs[key] for key in ("school_a", "school_a2", "college_a", "kindergarten_a")
        }
        # A school director could issue a college deputy in principle, but has no college to offer.
        assert offerable_roles(db, director) == [Role.SCHOOL_DEPUTY, Role.SOCIAL_PEDAGOGUE, Role.RESPONSIBLE]
        assert [org.id for org in issuable_organizations(db, director)] == [directory.orgs["school_a"]]
        assert issuable_roles(support) == [Role.SUPPORT, Role.EDUCATION_DEPARTMENT, Role.PRESCHOOL_DEPARTMENT]
        assert {org.id for org in issuable_organizations(db, support)} == {
            directory.orgs[key] for key in ("support", "dept_a", "dept_b", "preschool")
        }
        support_on_pages = actor_for_login(db, directory.logins["support_staff"])
        assert issuable_roles(support_on_pages) == [Role.EDUCATION_DEPARTMENT, Role.PRESCHOOL_DEPARTMENT]
