"""reset_password and unlock_password_signin: authority over every current role, results, audit."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.signin_recovery import reset_password, unlock_password_signin
from bridge.services.credentials import CredentialStatus, check_issued_credential
from bridge.services.errors import DomainError
from bridge.services.throttle import reserve_attempt
from bridge.storage.database import transaction
from tests.application.conftest import POLICY, as_, audit, refusals
from tests.services.directory import Directory


def test_a_reset_issues_a_new_password_and_ends_the_old_sign_ins(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = directory.logins["director_a"]
    reset = reset_password(db_factory, as_(directory, "dept_a"), director, POLICY)
    assert reset.staff.card.credential_status == CredentialStatus.ISSUED
    assert (reset.retirement.bindings_removed, reset.retirement.sessions_ended) == (0, 0)
    with transaction(db_factory) as db:
        check_issued_credential(db, director, reset.credential.password)
    assert [event.event for event in audit(db_factory)] == ["credential.reset", "credential.issued"]


def test_no_reset_of_oneself_or_of_one_above(db_factory: sessionmaker[Session], directory: Directory) -> None:
    for target in ("director_a", "dept_a"):
        with pytest.raises(DomainError) as refused:
            reset_password(db_factory, as_(directory, "director_a"), directory.logins[target], POLICY)
        assert refused.value.code == "staff_not_managed"
    assert refusals(db_factory) == [("credential.reset", "staff_not_managed")] * 2


def test_unlock_clears_the_counters_of_the_login(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = directory.logins["director_a"]
    with transaction(db_factory) as db:
        reserve_attempt(db, director, "192.0.2.7", POLICY.throttle)
    unlocked = unlock_password_signin(db_factory, as_(directory, "dept_a"), director)
    assert (unlocked.card.login, unlocked.counters_cleared) == (director, 2)
    with pytest.raises(DomainError) as refused:
        unlock_password_signin(db_factory, as_(directory, "preschool"), director)
    assert refused.value.code == "staff_not_managed"
    assert [event.event for event in audit(db_factory)] == ["throttle.unlocked", "issuance.refused"]
