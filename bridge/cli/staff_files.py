"""`bridge staff import FILE [--dry-run]` and `bridge staff export`: staff to and from spreadsheets.

The same use cases as «Загрузить из таблицы» and «Выгрузить» on the staff list; the filter
arguments are `bridge staff list`'s.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bridge.application import staff_directory, staff_import
from bridge.application.staff_directory import PAGE_SIZES, StaffFilter
from bridge.application.staff_import import ImportLimits
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit
from bridge.cli.requests import activation_links
from bridge.config import Settings
from bridge.services.errors import InvalidInput
from bridge.services.roles import Role
from bridge.services.staff_export import ExportFormat
from bridge.services.staff_search import DEFAULT_PAGE_SIZE, BindingFilter, StaffStatus


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", type=int, metavar="ID", help="an organization of your subtree")
    parser.add_argument("--role", choices=[role.value for role in Role])
    parser.add_argument("--status", choices=[status.value for status in StaffStatus])
    parser.add_argument("--binding", choices=[binding.value for binding in BindingFilter])
    parser.add_argument("--awaiting", action="store_true", help="only people who have not signed in yet")
    parser.add_argument("--search", default="", help="ФИО (its beginning), login, or СНИЛС with or without dashes")


def staff_filter(args: argparse.Namespace) -> StaffFilter:
    return StaffFilter(
        organization_id=args.org, role=Role(args.role) if args.role else None,
        status=StaffStatus(args.status) if args.status else None,
        binding=BindingFilter(args.binding) if args.binding else None, awaiting=args.awaiting, search=args.search,
    )


def register(actions: argparse._SubParsersAction[Any]) -> None:
    listing = actions.add_parser("list", help="staff members you manage, a page at a time")
    add_filter_arguments(listing)
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--size", type=int, default=DEFAULT_PAGE_SIZE, choices=PAGE_SIZES)
    listing.set_defaults(handler=run_list)

    export = actions.add_parser("export", help="the filtered list as a CSV or XLSX file (audited)")
    add_filter_arguments(export)
    export.add_argument("--format", choices=[kind.value for kind in ExportFormat], default=ExportFormat.XLSX.value)
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.set_defaults(handler=run_export)

    importing = actions.add_parser("import", help="register staff from an XLSX or CSV file, all rows or none")
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="report every row, write nothing")
    importing.set_defaults(handler=run_import)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        page = staff_directory.list_staff(
            database, acting_as(args), staff_filter(args), page=args.page, page_size=args.size
        )
    lines = [
        f"{row.login:<20} {row.full_name:<40} {row.status_title:<16} "
        + "; ".join(f"{role.title} — {role.organization_name}" for role in row.roles)
        for row in page.rows
    ]
    footer = f"Найдено: {page.total_text}; страница {page.page}" + (f" из {page.pages}." if page.pages else ".")
    data = {
        "staff": [asdict(row) for row in page.rows], "total": page.total, "page": page.page, "pages": page.pages,
    }
    emit(args, data, "\n".join([*lines, footer]) if lines else "Сотрудников нет.")
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        exported = staff_directory.export_staff(
            database, acting_as(args), staff_filter(args), ExportFormat(args.format),
            max_rows=settings.staff_export_max_rows,
        )
    args.out.write_bytes(exported.content)
    emit(args, {"rows": exported.rows, "file": str(args.out)}, f"Выгружено сотрудников: {exported.rows} → {args.out}")
    return 0


def _limits(settings: Settings) -> ImportLimits:
    return ImportLimits(max_bytes=settings.staff_import_max_bytes, max_rows=settings.staff_import_max_rows)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    if not path.is_file():
        raise InvalidInput("import_no_file", f"Файл «{path}» не найден.")
    if path.stat().st_size > settings.staff_import_max_bytes:
        raise InvalidInput("import_too_big", "Файл больше допустимого размера: разделите его на части.")
    content = path.read_bytes()
    with directory_database(settings) as database:
        if args.dry_run:
            report = staff_import.prepare_import(database, acting_as(args), path.name, content, _limits(settings))
            lines = [
                f"строка {row.line}: {row.full_name} — "
                + (f"ошибка: {' '.join(row.errors)}" if row.errors else f"{row.role_title}, {row.organization_name}")
                for row in report.rows
            ]
            bad = len(report.bad)
            lines.append(f"Строк: {len(report.rows)}, с ошибками: {bad}. Ничего не записано (--dry-run).")
            emit(args, {"rows": [asdict(row) for row in report.rows], "bad": bad}, "\n".join(lines))
            return 1 if bad else 0
        done = staff_import.import_staff(
            database, acting_as(args), path.name, content, _limits(settings), activation_links(settings)
        )
    text = (
        f"Зарегистрировано сотрудников: {done.registered}; ссылка для активации отправлена: {done.mailed}. "
        "Остальным выдайте пароль на карточке."
    )
    emit(args, asdict(done), text)
    return 0
