"""Reading a spreadsheet of staff for the bulk import: XLSX (first sheet) or CSV, Russian headers.

Only reading happens here: every row comes back as the text of its cells under our field names,
with its line number in the file, and `staff_import.py` judges it. Limits are checked while
reading (bytes before anything is parsed, rows as they come), so a huge file costs little.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from openpyxl import load_workbook

from bridge.services.errors import InvalidInput

# Header (compared without case and spacing, «ё» as «е») → field. The first listed is what the
# sample file and the admin guide use.
HEADERS: dict[str, tuple[str, ...]] = {
    "surname": ("фамилия",),
    "name": ("имя",),
    "patronymic": ("отчество",),
    "snils": ("снилс",),
    "email": ("электронная почта", "e-mail", "email", "почта"),
    "phone": ("телефон",),
    "organization": ("организация", "номер организации", "инн организации"),
    "role": ("роль",),
    "position": ("должность",),
    "start_date": ("дата начала", "начало"),
}
REQUIRED = ("surname", "name", "organization", "role")


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_rows: int


@dataclass(frozen=True)
class SheetRow:
    line: int
    cells: dict[str, str]


def _key(header: object) -> str:
    return " ".join(str(header or "").split()).casefold().replace("ё", "е")


def _fields(header_row: list[object]) -> list[str | None]:
    by_header = {title: field for field, titles in HEADERS.items() for title in titles}
    fields = [by_header.get(_key(header)) for header in header_row]
    missing = [HEADERS[field][0] for field in REQUIRED if field not in fields]
    if missing:
        raise InvalidInput(
            "import_headers",
            "В первой строке таблицы нет столбцов: " + ", ".join(f"«{title.capitalize()}»" for title in missing)
            + ". Скачайте образец и заполните его.",
        )
    return fields


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")  # type: ignore[no-any-return]
    return " ".join(str(value).split())


def _xlsx_rows(content: bytes) -> Iterator[list[object]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise InvalidInput("import_unreadable", "Файл не читается как таблица Excel (XLSX).") from None
    sheet = workbook.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield list(values)
    workbook.close()


def _csv_rows(content: bytes) -> Iterator[list[object]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1251")
        except UnicodeDecodeError:
            raise InvalidInput("import_unreadable", "Файл CSV не читается: сохраните его в кодировке UTF-8.") from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    yield from csv.reader(io.StringIO(text), delimiter=delimiter)


def read_sheet(filename: str, content: bytes, limits: ImportLimits) -> list[SheetRow]:
    """The file's data rows (empty rows skipped); InvalidInput for a file we cannot or will not read."""
    if len(content) > limits.max_bytes:
        raise InvalidInput(
            "import_too_big", f"Файл больше {limits.max_bytes // (1024 * 1024)} МБ: разделите его на части.",
        )
    if not content:
        raise InvalidInput("import_empty", "Файл пустой.")
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        raw_rows = _xlsx_rows(content)
    elif lower.endswith(".csv"):
        raw_rows = _csv_rows(content)
    else:
        raise InvalidInput("import_format", "Загрузите файл XLSX или CSV.")
    header = next(raw_rows, None)
    if header is None:
        raise InvalidInput("import_empty", "Файл пустой.")
    fields = _fields(header)
    rows: list[SheetRow] = []
    for line, values in enumerate(raw_rows, start=2):
        cells = {
            field: _text(value) for field, value in zip(fields, values, strict=False) if field is not None
        }
        if not any(cells.values()):
            continue
        if any("\x00" in text for text in cells.values()):
            # No text the bridge keeps may hold one (PostgreSQL refuses it in a query: a 500).
            raise InvalidInput(
                "import_nul", f"В строке {line} недопустимые символы. Исправьте файл и загрузите его ещё раз.",
            )
        if len(rows) >= limits.max_rows:
            raise InvalidInput(
                "import_too_many_rows", f"В файле больше {limits.max_rows} строк: разделите его на части.",
            )
        rows.append(SheetRow(line=line, cells=cells))
    if not rows:
        raise InvalidInput("import_empty", "В файле нет ни одной строки с сотрудником.")
    return rows
