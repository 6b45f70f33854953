"""The staff list as a file: CSV (as Russian Excel opens it) or XLSX, Russian headers, Moscow time.

The rows come from `staff_search.all_staff`, bounded by the caller (the count is checked before
a single row is written, so an export too large for the settings costs one COUNT).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from enum import StrEnum

from openpyxl import Workbook

from bridge.services.moscow_time import in_moscow
from bridge.services.staff_cards import provider_title
from bridge.services.staff_search import StaffRow


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

HEADERS = (
    "ФИО", "Логин", "СНИЛС", "Электронная почта", "Роли и организации", "Состояние", "Выданный пароль",
    "Привязки", "Зарегистрирован (МСК)",
)


def _cells(row: StaffRow) -> tuple[str, ...]:
    roles = "; ".join(
        f"{line.title} — {line.organization_name}" + (f" ({line.position})" if line.position else "")
        for line in row.roles
    )
    return (
        row.full_name or "персональные данные удалены", row.login, row.snils, row.email, roles, row.status_title,
        row.credential_status_title, ", ".join(provider_title(provider) for provider in row.providers),
        f"{in_moscow(row.created_at):%d.%m.%Y %H:%M}",
    )


def _safe(cell: str) -> str:
    # A cell beginning with = + - @ is a formula to a spreadsheet: a name typed as one must stay text.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def staff_csv(rows: Iterable[StaffRow]) -> tuple[bytes, int]:
    """UTF-8 with a byte-order mark and «;» between fields: what Excel in a Russian locale expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    count = 0
    for row in rows:
        writer.writerow([_safe(cell) for cell in _cells(row)])
        count += 1
    return ("\ufeff" + buffer.getvalue()).encode(), count


def staff_xlsx(rows: Iterable[StaffRow]) -> tuple[bytes, int]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Сотрудники")
    sheet.append(list(HEADERS))
    count = 0
    for row in rows:
        sheet.append([_safe(cell) for cell in _cells(row)])
        count += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count


WRITERS = {ExportFormat.CSV: staff_csv, ExportFormat.XLSX: staff_xlsx}
