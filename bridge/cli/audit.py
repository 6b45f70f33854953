"""`bridge audit`: read the audit log, newest first (technical support only); its chain commands
are in bridge.cli.audit_trail."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from bridge.application import audit_log
from bridge.cli.audit_trail import register_chain_commands
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings


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
    with directory_database(settings) as database:
        records = audit_log.read_audit_log(
            database, acting_as(args), limit=args.limit, login=args.login, event_prefix=args.event
        )
    events: list[dict[str, Any]] = [{**asdict(record), "at": record.at.isoformat()} for record in records]
    # Every field goes through `visible`: actors, logins and redirect URIs come from outside.
    lines = [
        f"{visible(event['at'][:19])}  {visible(event['event']):<22} {visible(event['outcome']):<8} "
        f"{visible(event['actor']):<20} "
        + " ".join(f"{visible(key)}={visible(value)}" for key, value in sorted(event["details"].items()))
        for event in events
    ]
    emit(args, {"events": events}, "\n".join(lines) or "Записей нет.")
    return 0
