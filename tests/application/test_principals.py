"""Who a use case acts for: the administration pages' gate, and `--acting-as`."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs, administrator, audit_context_of, resolve
from bridge.services.errors import DomainError
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.models import StaffMember
from tests.services.directory import Directory


def _ids(factory: sessionmaker[Session], login: str) -> tuple[int, int]:
    with factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        return staff.id, staff.roles[0].id


def test_the_pages_are_for_roles_that_issue_something(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    staff_id, role_id = _ids(db_factory, directory.logins["director_a"])
    actor = administrator(db_factory, staff_id, role_id, address="192.0.2.1")
    assert actor.login == directory.logins["director_a"]
    assert audit_context_of(actor).address == "192.0.2.1"
    for key in ("deputy_a", "kindergarten_head"):
        staff_id, role_id = _ids(db_factory, directory.logins[key])
        with pytest.raises(DomainError) as refused:
            administrator(db_factory, staff_id, role_id, address=None)
        assert refused.value.code == "role_issues_nothing"
    with pytest.raises(DomainError):
        administrator(db_factory, staff_id, None, address=None)


def test_acting_as_is_checked_against_the_directory(db_factory: sessionmaker[Session], directory: Directory) -> None:
    login = directory.logins["dept_a"]
    assert audit_context_of(ActingAs()).actor == "cli:support"
    assert audit_context_of(ActingAs(login)).actor == login
    with db_factory() as db:
        assert resolve(db, ActingAs()).is_cli_support
        assert resolve(db, ActingAs(login)).login == login
    with transaction(db_factory) as db:
        db.scalars(select(StaffMember).where(StaffMember.login == login)).one().status = StaffStatus.BLOCKED
    with db_factory() as db, pytest.raises(DomainError) as refused:
        resolve(db, ActingAs(login))
    assert refused.value.code == "actor_blocked"
