"""import_organizations: 5 000 rows, every wrong one reported, nothing written unless all are right."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.organizations import RowOutcome, import_organizations
from bridge.services.errors import DomainError
from bridge.services.organization_import import read_spreadsheet
from bridge.storage.models import AuditEvent, Organization
from tests.application.conftest import SUPPORT, as_, refusals
from tests.services.directory import Directory

ROWS = 5_000
# Every 500th row is wrong in one of three ways; the rest are schools under district A's department.
WRONG = {
    0: ("Школа", "завод", "", "unknown_organization_kind"),
    1: ("", "школа", "", "organization_name_required"),
    2: ("Школа", "школа", "123", "invalid_inn"),
}


def _table(directory: Directory) -> bytes:
    lines = ["Название;Вид;ИНН;Вышестоящая"]
    for number in range(ROWS):
        if number % 500 == 499:
            name, kind, inn, _ = WRONG[(number // 500) % 3]
            lines.append(f"{name};{kind};{inn};")
        else:
            lines.append(f"Школа № {number + 1};школа;;{directory.orgs['dept_a']}")
    return "\n".join(lines).encode()


def _organizations(db_factory: sessionmaker[Session]) -> int:
    with db_factory() as db:
        return db.scalar(select(func.count()).select_from(Organization)) or 0


def test_five_thousand_rows_report_every_wrong_row_and_write_nothing(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    rows = read_spreadsheet("schools.csv", _table(directory))
    before = _organizations(db_factory)
    report = import_organizations(db_factory, SUPPORT, rows, dry_run=False)
    assert not report.kept and _organizations(db_factory) == before
    wrong = {row.line: row.code for row in report.wrong}
    # Line numbers as a spreadsheet shows them: the heading is line 1.
    expected = {number + 2: WRONG[(number // 500) % 3][3] for number in range(499, ROWS, 500)}
    assert wrong == expected
    assert sum(row.outcome is RowOutcome.CREATED for row in report.rows) == ROWS - len(expected)
    with db_factory() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.event == "organization.imported")).all()
    assert (event.outcome, event.details["created"], event.details["wrong"]) == ("refused", 0, len(expected))

    right = [row for number, row in enumerate(rows) if number + 2 not in expected]
    checked = import_organizations(db_factory, SUPPORT, right, dry_run=True)
    assert not checked.kept and not checked.wrong and _organizations(db_factory) == before
    kept = import_organizations(db_factory, SUPPORT, right, dry_run=False)
    assert kept.kept and _organizations(db_factory) == before + len(right)


def test_only_support_imports(db_factory: sessionmaker[Session], directory: Directory) -> None:
    rows = [{"name": "Школа", "kind": "school"}]
    with pytest.raises(DomainError) as refused:
        import_organizations(db_factory, as_(directory, "dept_a"), rows, dry_run=True)
    assert refused.value.code == "support_only"
    assert refusals(db_factory) == [("organization.import", "support_only")]
