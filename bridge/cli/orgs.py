"""`bridge org ...`: the organizations of the directory (technical support adds them)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from bridge.application import organization_requests, organizations
from bridge.application.organization_requests import OrganizationRequestView
from bridge.application.organizations import NewOrganization, OrganizationView
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.moscow_time import moscow_datetime
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
