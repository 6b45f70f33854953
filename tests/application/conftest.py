"""What the use-case tests share: the test directory, the policy, reading the audit log back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.application.staff_cards import StaffAdminPolicy
from bridge.services.throttle import ThrottlePolicy
from bridge.storage.models import AuditEvent
from tests.services.directory import Directory, build_directory

POLICY = StaffAdminPolicy(credential_ttl=timedelta(days=30), throttle=ThrottlePolicy())
SUPPORT = ActingAs()


@pytest.fixture
def directory(db_factory: sessionmaker[Session]) -> Directory:
    return build_directory(db_factory)


def as_(directory: Directory, key: str) -> ActingAs:
    return ActingAs(directory.logins[key])


def audit(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def refusals(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(operation, reason) of every refusal audited so far."""
    return [
        (event.details["operation"], event.details["reason"])
        for event in audit(factory)
        if event.event == "issuance.refused"
    ]
