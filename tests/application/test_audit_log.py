"""read_audit_log: the audit viewer's one function; each administrator reads their own subtree."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.audit_log import AuditFilter, export_audit_view, read_audit_log
from bridge.application.signin_recovery import unlock_password_signin
from bridge.services.audit_export import ExportFormat
from bridge.services.errors import DomainError
from bridge.services.moscow_time import moscow_today
from tests.application.conftest import SUPPORT, as_
from tests.services.directory import Directory


def test_support_reads_what_was_done_to_a_person(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = directory.logins["director_a"]
    unlock_password_signin(db_factory, as_(directory, "dept_a"), director)
    [record] = read_audit_log(db_factory, SUPPORT, AuditFilter(person=director)).records
    assert (record.event, record.actor, record.details["login"]) == ("throttle.unlocked", directory.logins["dept_a"],
                                                                     director)


def test_each_administrator_reads_only_their_subtree(db_factory: sessionmaker[Session], directory: Directory) -> None:
    # Two records about people of district A's school, none about district B.
    unlock_password_signin(db_factory, as_(directory, "dept_a"), directory.logins["director_a"])
    unlock_password_signin(db_factory, as_(directory, "director_a"), directory.logins["deputy_a"])

    def events(key: str) -> list[str]:
        page = read_audit_log(db_factory, as_(directory, key), AuditFilter(event="throttle."))
        return [record.details["login"] for record in page.records]

    assert events("dept_a") == [directory.logins["deputy_a"], directory.logins["director_a"]]
    # Both records are about people of her school: the subtree is the organization, whoever acted.
    assert events("director_a") == [directory.logins["deputy_a"], directory.logins["director_a"]]
    assert events("preschool") == []
    support_page = read_audit_log(db_factory, as_(directory, "support_staff"), AuditFilter(event="throttle."))
    assert support_page.whole_log and len(support_page.records) == 2
    with pytest.raises(DomainError) as refused:
        read_audit_log(db_factory, as_(directory, "deputy_a"))
    assert refused.value.code == "role_issues_nothing"


def test_filters_pages_and_the_export_agree(db_factory: sessionmaker[Session], directory: Directory) -> None:
    for _ in range(3):
        unlock_password_signin(db_factory, as_(directory, "dept_a"), directory.logins["director_a"])
    view = AuditFilter(actor=directory.logins["dept_a"], since=moscow_today(), until=moscow_today())
    first = read_audit_log(db_factory, SUPPORT, view, limit=2)
    second = read_audit_log(db_factory, SUPPORT, view, page=2, limit=2)
    assert (len(first.records), first.has_next, len(second.records), second.has_next) == (2, True, 1, False)
    yesterday = moscow_today() - timedelta(days=1)
    assert read_audit_log(db_factory, SUPPORT, AuditFilter(until=yesterday)).records == ()
    assert read_audit_log(db_factory, SUPPORT, AuditFilter(subject="nobody")).records == ()
    out = io.StringIO()
    summary = export_audit_view(db_factory, as_(directory, "director_a"), view, out, ExportFormat.CSV)
    assert summary.records == 3 and out.getvalue().count("throttle.unlocked") == 3
    out = io.StringIO()
    assert export_audit_view(db_factory, as_(directory, "preschool"), view, out, ExportFormat.CSV).records == 0
