"""`bridge audit`: read the audit log, newest first, each administrator their own subtree (technical
support all of it), with the audit viewer page's filters; its chain commands are in bridge.cli.audit_trail."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from bridge.application import audit_log
from bridge.cli.audit_filters import add_filter_arguments, audit_filter
from bridge.cli.audit_trail import register_chain_commands
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings


def register(commands: argparse._SubParsersAction[Any]) -> None:
    audit = commands.add_parser(
        "audit", help="the audit log: newest first, or verify, anchor, export, purge its hash chain"
    )
    audit.add_argument("--limit", type=int, default=50, metavar="N")
    audit.add_argument("--page", type=int, default=1, metavar="N")
    audit.add_argument("--login", help="events done by or about this person")
    audit.add_argument("--event", metavar="PREFIX", help='e.g. "credential." or "issuance.refused"')
    add_filter_arguments(audit)
    audit.set_defaults(handler=run_audit)
    register_chain_commands(audit.add_subparsers(dest="audit_command", metavar="{verify,anchor,export,purge}"))


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        found = audit_log.read_audit_log(
            database, acting_as(args), audit_filter(args), page=args.page, limit=max(args.limit, 0)
        )
    events: list[dict[str, Any]] = [{**asdict(record), "at": record.at.isoformat()} for record in found.records]
    # Every field goes through `visible`: actors, logins and redirect URIs come from outside.
    lines = [
        f"{visible(event['at'][:19])}  {visible(event['event']):<22} {visible(event['outcome']):<8} "
        f"{visible(event['actor']):<20} "
        + " ".join(f"{visible(key)}={visible(value)}" for key, value in sorted(event["details"].items()))
        + "".join(
            f" personal.{visible(key)}={visible(value)}" for key, value in sorted((event["personal"] or {}).items())
        )
        for event in events
    ]
    if found.has_next:
        lines.append(f"Есть ещё записи: --page {found.page + 1}")
    emit(args, {"events": events, "page": found.page, "has_next": found.has_next}, "\n".join(lines) or "Записей нет.")
    return 0
