"""read_audit_log: technical support reads the log, newest first."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.audit_log import read_audit_log
from bridge.application.signin_recovery import unlock_password_signin
from bridge.services.errors import DomainError
from tests.application.conftest import SUPPORT, as_
from tests.services.directory import Directory


def test_support_reads_what_was_done_to_a_person(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = directory.logins["director_a"]
    unlock_password_signin(db_factory, as_(directory, "dept_a"), director)
    [record] = read_audit_log(db_factory, SUPPORT, login=director)
    assert (record.event, record.actor, record.details["login"]) == ("throttle.unlocked", directory.logins["dept_a"],
                                                                     director)
    with pytest.raises(DomainError) as refused:
        read_audit_log(db_factory, as_(directory, "dept_a"))
    assert refused.value.code == "support_only"
