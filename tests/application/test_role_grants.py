"""issuing_choices and add_role: what the forms offer, and a role only for someone one manages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.role_grants import RoleGrant, add_role, issuing_choices
from bridge.services.errors import DomainError
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import Organization
from tests.application.conftest import POLICY, SUPPORT, as_, refusals
from tests.services.directory import Directory, row_counts
from tests.support.factories import give_role, make_staff

START = date(2024, 9, 1)


def test_the_choices_are_what_the_actor_may_issue(db_factory: sessionmaker[Session], directory: Directory) -> None:
    choices = issuing_choices(db_factory, as_(directory, "director_a"))
    assert choices.organizations == ((directory.orgs["school_a"], "Тестовая школа"),)
    assert [role for role, _ in choices.roles] == [Role.SCHOOL_DEPUTY, Role.SOCIAL_PEDAGOGUE, Role.RESPONSIBLE]
    assert issuing_choices(db_factory, as_(directory, "deputy_a")).roles == ()


def test_a_role_for_someone_never_issued_brings_their_first_password(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    deputy = directory.logins["deputy_a"]
    grant = RoleGrant(directory.orgs["school_a"], "social_pedagogue", START)
    added = add_role(db_factory, as_(directory, "director_a"), deputy, grant, POLICY)
    assert (added.role.role, added.role.title) == (Role.SOCIAL_PEDAGOGUE, "Социальный педагог")
    assert added.credential is not None and added.credential.login == deputy
    assert [role.role for role in added.staff.card.roles] == [Role.SCHOOL_DEPUTY, Role.SOCIAL_PEDAGOGUE]
    again = add_role(
        db_factory, as_(directory, "director_a"), deputy,
        RoleGrant(directory.orgs["school_a"], "responsible", START), POLICY,
    )
    assert again.credential is None


def test_no_role_for_a_person_in_another_district(db_factory: sessionmaker[Session], directory: Directory) -> None:
    """Issue 9: the CLI let a director give a role in his school to anyone, e.g. another district's deputy."""
    with transaction(db_factory) as db:
        stranger = make_staff(db, surname="Чужая", login="chuzhaya", password="Issued-1234")
        school_b = db.get(Organization, directory.orgs["school_b"])
        assert school_b is not None
        give_role(db, stranger, school_b, Role.SCHOOL_DEPUTY)
    before = row_counts(db_factory)
    grant = RoleGrant(directory.orgs["school_a"], "responsible", START)
    with pytest.raises(DomainError) as refused:
        add_role(db_factory, as_(directory, "director_a"), "chuzhaya", grant, POLICY)
    assert refused.value.code == "staff_not_managed"
    assert row_counts(db_factory) == before
    assert refusals(db_factory) == [("role.add", "staff_not_managed")]
    # Technical support at the CLI manages everyone, but still issues only what support issues.
    with pytest.raises(DomainError) as support:
        add_role(db_factory, SUPPORT, "chuzhaya", grant, POLICY)
    assert support.value.code == "role_not_permitted"
