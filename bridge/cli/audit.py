"""`bridge audit`: read the audit log, newest first (technical support only); its chain commands
are in bridge.cli.audit_trail."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli.audit_trail import register_chain_commands
from bridge.cli.output import emit, visible
from bridge.cli.staff import directory_database
from bridge.config import Settings
from bridge.services.audit_log import recent_audit_events
from bridge.services.errors import PermissionDenied
from bridge.storage.database import transaction


def register(commands: argparse._SubParsersAction[Any]) -> None:
    audit = commands.add_parser(
        "audit", help="the audit log: newest first, or verify, anchor, export, purge its hash chain"
    )
    audit.add_argument("--limit", type=int, default=50, metavar="N")
    audit.add_argument("--login", help="events done by or about this person")
    audit.add_argument("--event", metavar="PREFIX", help='e.g. "credential." or "issuance.refused"')
    audit.set_defaults(handler=run_audit)
    register_chain_commands(audit.add_subparsers(dest="audit_command", metavar="{verify,anchor,export,purge}"))


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.acting_as:
        raise PermissionDenied(
            "support_only", "Журнал аудита читает техническая поддержка: выполните команду без --acting-as."
        )
    with directory_database(settings) as factory, transaction(factory) as db:
        events: list[dict[str, Any]] = [
            {
                "id": event.id,
                "seq": event.seq,
                "at": event.at.isoformat(),
                "event": event.event,
                "outcome": event.outcome,
                "actor": event.actor,
                "subject_staff_id": event.subject_staff_id,
                "organization_id": event.organization_id,
                "address": event.address,
                "details": event.details,
            }
            for event in recent_audit_events(db, limit=args.limit, login=args.login, event_prefix=args.event)
        ]
    # Every field goes through `visible`: actors, logins and redirect URIs come from outside.
    lines = [
        f"{visible(event['at'][:19])}  {visible(event['event']):<22} {visible(event['outcome']):<8} "
        f"{visible(event['actor']):<20} "
        + " ".join(f"{visible(key)}={visible(value)}" for key, value in sorted(event["details"].items()))
        for event in events
    ]
    emit(args, {"events": events}, "\n".join(lines) or "Записей нет.")
    return 0
