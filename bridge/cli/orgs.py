"""`bridge org ...`: the organizations of the directory (technical support only)."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli.output import emit
from bridge.cli.staff import audit_context_of, directory_database
from bridge.config import Settings
from bridge.services.errors import PermissionDenied
from bridge.services.organizations import NewOrganization, create_organization, list_organizations
from bridge.services.refusals import audited_refusals
from bridge.services.roles import ORGANIZATION_KIND_TITLES, OrganizationKind
from bridge.storage.database import transaction
from bridge.storage.models import Organization


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


def organization_json(organization: Organization) -> dict[str, Any]:
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


def _kind_title(kind: str) -> str:
    try:
        return ORGANIZATION_KIND_TITLES[OrganizationKind(kind)]
    except ValueError:
        return kind


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewOrganization(
        name=args.name, kind=args.kind, district=args.district, inn=args.inn, ogrn=args.ogrn,
        parent_id=args.parent,
    )
    context = audit_context_of(args)
    with (
        directory_database(settings) as factory,
        audited_refusals(factory, context, "organization.create", kind=args.kind),
        transaction(factory) as db,
    ):
        if args.acting_as:
            raise PermissionDenied(
                "support_only", "Организации заводит техническая поддержка: выполните команду без --acting-as."
            )
        organization = create_organization(db, context, new)
        data = organization_json(organization)
    emit(args, {"organization": data}, f"Организация добавлена: №{data['id']} «{data['name']}».")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as factory, transaction(factory) as db:
        organizations = [
            organization_json(organization)
            for organization in list_organizations(db, parent_id=args.parent, district=args.district)
        ]
    lines = [
        f"№{org['id']:<5} {org['name']} — {_kind_title(org['kind'])}"
        + (f", район {org['district']}" if org["district"] else "")
        + (f", подчинена №{org['parent_id']}" if org["parent_id"] else "")
        + ("" if org["registry_status"] == "active" else " [исключена из реестра]")
        for org in organizations
    ]
    emit(args, {"organizations": organizations}, "\n".join(lines) or "Организаций нет.")
    return 0
