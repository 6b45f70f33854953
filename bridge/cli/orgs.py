"""`bridge org ...`: the organizations of the directory (technical support adds them)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bridge.application import organization_requests, organizations
from bridge.application.organization_requests import OrganizationRequestView
from bridge.application.organizations import NewOrganization, OrganizationView, RegistryStatus, RowOutcome
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import EXIT_REFUSED, emit, visible
from bridge.config import Settings
from bridge.services.errors import InvalidInput
from bridge.services.moscow_time import moscow_datetime
from bridge.services.organization_import import read_spreadsheet
from bridge.services.roles import OrganizationKind


def register(commands: argparse._SubParsersAction[Any]) -> None:
    org = commands.add_parser(
        "org", aliases=["orgs"], help="organizations: departments, schools, colleges, kindergartens"
    )
    actions = org.add_subparsers(dest="org_command", required=True)

    add = actions.add_parser("add", help="add an organization")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=[kind.value for kind in OrganizationKind])
    add.add_argument("--district")
    add.add_argument("--inn")
    add.add_argument("--ogrn")
    add.add_argument("--parent", type=int, metavar="ID", help="the education department above it")
    add.set_defaults(handler=run_add)

    edit = actions.add_parser("edit", help="change an organization (support): what is not given stays")
    edit.add_argument("organization_id", type=int, metavar="ID")
    edit.add_argument("--name")
    edit.add_argument("--kind", choices=[kind.value for kind in OrganizationKind])
    edit.add_argument("--district")
    edit.add_argument("--inn")
    edit.add_argument("--ogrn")
    edit.add_argument("--parent", type=int, metavar="ID")
    edit.add_argument("--no-parent", action="store_true", help="no education department above it")
    edit.add_argument("--registry-status", choices=[status.value for status in RegistryStatus])
    edit.set_defaults(handler=run_edit)

    import_ = actions.add_parser(
        "import", help="add organizations from a CSV or XLSX table: all rows or none (support)"
    )
    import_.add_argument("file", type=Path, metavar="FILE")
    import_.add_argument("--dry-run", action="store_true", help="check every row, add nothing")
    import_.set_defaults(handler=run_import)

    listing = actions.add_parser("list", help="list organizations")
    listing.add_argument("--parent", type=int, metavar="ID")
    listing.add_argument("--district")
    listing.set_defaults(handler=run_list)

    requests = actions.add_parser("requests", help="requests to add an organization to the registry (support)")
    requests.add_argument("--all", action="store_true", help="closed requests too")
    requests.set_defaults(handler=run_requests)

    close = actions.add_parser("close-request", help="mark a request to add an organization as dealt with")
    close.add_argument("request_id", type=int, metavar="ID")
    close.add_argument("--note", help="what was done: the organization's number, or why not")
    close.set_defaults(handler=run_close_request)


def organization_json(organization: OrganizationView) -> dict[str, Any]:
    return {
        "id": organization.id,
        "name": organization.name,
        "kind": organization.kind,
        "district": organization.district,
        "inn": organization.inn,
        "ogrn": organization.ogrn,
        "parent_id": organization.parent_id,
        "registry_status": organization.registry_status,
    }


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewOrganization(
        name=args.name, kind=args.kind, district=args.district, inn=args.inn, ogrn=args.ogrn,
        parent_id=args.parent,
    )
    with directory_database(settings) as database:
        organization = organizations.create_organization(database, acting_as(args), new)
    emit(
        args, {"organization": organization_json(organization)},
        f"Организация добавлена: №{organization.id} «{organization.name}».",
    )
    return 0


def run_edit(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        current = organizations.show_organization(database, acting_as(args), args.organization_id)
        parent_id = None if args.no_parent else args.parent if args.parent is not None else current.parent_id
        new = NewOrganization(
            name=args.name if args.name is not None else current.name,
            kind=args.kind or current.kind,
            district=args.district if args.district is not None else current.district,
            inn=args.inn if args.inn is not None else current.inn,
            ogrn=args.ogrn if args.ogrn is not None else current.ogrn,
            parent_id=parent_id,
        )
        status = RegistryStatus(args.registry_status) if args.registry_status else current.registry_status
        organization = organizations.edit_organization(database, acting_as(args), current.id, new, status)
    emit(
        args, {"organization": organization_json(organization)},
        f"Организация №{organization.id} «{visible(organization.name)}» сохранена.",
    )
    return 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        content = args.file.read_bytes()
    except OSError as error:
        raise InvalidInput("import_unreadable", f"Файл не прочитан: {error.strerror}.") from None
    rows = read_spreadsheet(args.file.name, content)
    with directory_database(settings) as database:
        report = organizations.import_organizations(database, acting_as(args), rows, dry_run=args.dry_run)
    lines = [
        f"Строка {row.line}: «{visible(row.name)}» — "
        + ("ошибка: " + row.message if row.outcome is RowOutcome.WRONG else "будет добавлена" if not report.kept
           else "добавлена")
        for row in report.rows
    ]
    wrong = len(report.wrong)
    if report.kept:
        lines.append(f"Добавлено организаций: {len(report.rows)}.")
    elif wrong:
        lines.append(f"Ошибок: {wrong}. Ничего не добавлено: исправьте строки и загрузите файл снова.")
    else:
        lines.append(f"Проверка прошла: строк без ошибок {len(report.rows)}. Ничего не добавлено (--dry-run).")
    data = {
        "kept": report.kept, "dry_run": report.dry_run,
        "rows": [{"line": row.line, "name": row.name, "outcome": row.outcome, "error": row.code or None,
                  "message": row.message or None} for row in report.rows],
    }
    emit(args, data, "\n".join(lines))
    return 0 if report.kept or (report.dry_run and not wrong) else EXIT_REFUSED


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        found = organizations.list_organizations(
            database, acting_as(args), parent_id=args.parent, district=args.district
        )
    lines = [
        f"№{org.id:<5} {org.name} — {org.kind_title}"
        + (f", район {org.district}" if org.district else "")
        + (f", подчинена №{org.parent_id}" if org.parent_id else "")
        + ("" if org.in_registry else " [исключена из реестра]")
        for org in found
    ]
    emit(args, {"organizations": [organization_json(org) for org in found]}, "\n".join(lines) or "Организаций нет.")
    return 0


def _organization_request_json(request: OrganizationRequestView) -> dict[str, Any]:
    return asdict(request)


def run_requests(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        found = organization_requests.list_organization_requests(database, acting_as(args), include_closed=args.all)
    lines = [
        f"№{request.id:<5} {visible(request.name)}, ИНН {request.inn}; {visible(request.contact_email)}; "
        f"подана {moscow_datetime(request.created_at)} (МСК)"
        + (
            f" [закрыта {moscow_datetime(request.closed_at)}: {visible(request.closing_note or '—')}]"
            if request.closed_at else ""
        )
        for request in found
    ]
    emit(
        args, {"organization_requests": [_organization_request_json(request) for request in found]},
        "\n".join(lines) or "Открытых заявок на включение организаций нет.",
    )
    return 0


def run_close_request(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        closed = organization_requests.close_organization_request(database, acting_as(args), args.request_id, args.note)
    emit(
        args, {"organization_request": _organization_request_json(closed)},
        f"Заявка №{closed.id} на включение «{visible(closed.name)}» закрыта.",
    )
    return 0
