"""`bridge org ...`: the organizations of the directory (technical support adds them)."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.application import organizations
from bridge.application.organizations import NewOrganization, OrganizationView
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit
from bridge.config import Settings
from bridge.services.roles import OrganizationKind


def register(commands: argparse._SubParsersAction[Any]) -> None:
    org = commands.add_parser("org", help="organizations: departments, schools, colleges, kindergartens")
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
