"""Importing organizations from a spreadsheet (CSV or XLSX): every row checked, then all or nothing.

A row is checked exactly as `bridge org add` checks one (`organizations.create_organization`'s
rules), and a later row sees the earlier rows (a school may name a department added above it by
its ИНН). The caller decides whether the whole file is kept: only when no row
is wrong and it is not a dry run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.errors import DomainError, InvalidInput
from bridge.services.organizations import NewOrganization, checked_organization
from bridge.services.roles import ORGANIZATION_KIND_TITLES
from bridge.storage.models import Organization

# A file larger than this is refused before it is parsed (a district's registry is a few thousand rows).
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000

# Column headings as a person types them (lower case, spaces trimmed) → the field they fill.
_HEADINGS = {
    "название": "name", "наименование": "name", "name": "name",
    "вид": "kind", "тип": "kind", "kind": "kind",
    "район": "district", "district": "district",
    "инн": "inn", "inn": "inn",
    "огрн": "ogrn", "ogrn": "ogrn",
    "вышестоящая": "parent", "вышестоящая организация": "parent", "parent": "parent",
}
# A kind by its value or by its Russian title.
_KINDS = {
    **{kind.value: kind.value for kind in ORGANIZATION_KIND_TITLES},
    **{title.lower(): kind.value for kind, title in ORGANIZATION_KIND_TITLES.items()},
    "школа": "school", "колледж": "college", "детский сад": "kindergarten", "доу": "kindergarten",
    "управление образованием": "education_department",
}


class RowOutcome(StrEnum):
    CREATED = "created"
    WRONG = "wrong"


@dataclass(frozen=True)
class ImportedRow:
    # The row's number in the file, the heading being row 1 (as a spreadsheet shows it).
    line: int
    name: str
    outcome: RowOutcome
    # The Russian reason a wrong row is wrong; its stable code beside it.
    message: str = ""
    code: str = ""


def read_spreadsheet(filename: str, content: bytes) -> list[dict[str, str]]:
    """Rows by field name; a refusal a person can act on when the file is not a readable table."""
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidInput("import_too_large", "Файл больше 5 МБ: разделите его на несколько.")
    table = _xlsx_table(content) if filename.lower().endswith(".xlsx") else _csv_table(content)
    if not table:
        raise InvalidInput("import_empty", "В файле нет строк.")
    fields = [_HEADINGS.get(" ".join(str(cell).split()).lower(), "") for cell in table[0]]
    if "name" not in fields or "kind" not in fields:
        raise InvalidInput(
            "import_headings", "В первой строке нужны заголовки столбцов: «Название», «Вид» (и по желанию "
            "«Район», «ИНН», «ОГРН», «Вышестоящая»)."
        )
    if len(table) - 1 > MAX_IMPORT_ROWS:
        raise InvalidInput("import_too_many_rows", f"Больше {MAX_IMPORT_ROWS} строк: разделите файл.")
    rows: list[dict[str, str]] = []
    for cells in table[1:]:
        row = {field: " ".join(str(cell).split()) for field, cell in zip(fields, cells, strict=False) if field}
        if any("\x00" in text for text in row.values()):
            # No text the bridge keeps may hold one (PostgreSQL refuses it in a query: a 500).
            raise InvalidInput("import_nul", f"В строке {len(rows) + 2} недопустимые символы. Исправьте файл.")
        rows.append(row)
    return rows


def _csv_table(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1251")
        except UnicodeDecodeError:
            raise InvalidInput("import_encoding", "Файл не читается: сохраните его как CSV (UTF-8).") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(cell.strip() for cell in row)]


def _xlsx_table(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only an XLSX import needs it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file; every one means "not a workbook"
        raise InvalidInput("import_unreadable", "Файл не читается как таблица Excel (XLSX).") from None
    try:
        sheet = workbook.worksheets[0]
        return [
            ["" if cell is None else str(cell) for cell in row]
            for row in sheet.iter_rows(values_only=True)
            if any(cell not in (None, "") for cell in row)
        ]
    finally:
        workbook.close()


def _parent_id(db: Session, value: str) -> int | None:
    """The department above: by its number in the registry, or by its ИНН."""
    if not value:
        return None
    if value.isdigit() and len(value) in (10, 12):
        found = db.scalar(select(Organization.id).where(Organization.inn == value))
        if found is None:
            raise InvalidInput("unknown_parent", f"Вышестоящая организация с ИНН {value} не найдена.")
        return found
    if value.isdigit():
        return int(value)
    raise InvalidInput("unknown_parent", "«Вышестоящая»: номер организации в реестре или её ИНН.")


def import_rows(db: Session, rows: list[dict[str, str]]) -> list[ImportedRow]:
    """Each row checked and added; a wrong row is refused by its checks before anything is added
    (so no savepoint per row), and reported. The caller keeps the whole or rolls it back."""
    report = []
    # The parents named so far, held here: the session's identity map holds objects weakly, and a
    # parent loaded again for each of a district's thousand schools would cost a query (and a flush) each.
    parents: dict[int, Organization | None] = {}
    for number, row in enumerate(rows, start=2):
        name = row.get("name", "")
        try:
            kind_text = row.get("kind", "").lower()
            parent_id = _parent_id(db, row.get("parent", ""))
            if parent_id is not None and parent_id not in parents:
                parents[parent_id] = db.get(Organization, parent_id)
            new = NewOrganization(
                name=name, kind=_KINDS.get(kind_text, kind_text), district=row.get("district") or None,
                inn=row.get("inn") or None, ogrn=row.get("ogrn") or None, parent_id=parent_id,
            )
            # An ИНН or ОГРН check queries the table, which flushes the rows added before it:
            # a duplicate within the file is found like one already in the registry.
            db.add(checked_organization(db, new))
        except DomainError as error:
            report.append(ImportedRow(number, name, RowOutcome.WRONG, error.message, error.code))
        else:
            report.append(ImportedRow(number, name, RowOutcome.CREATED))
    db.flush()
    return report
