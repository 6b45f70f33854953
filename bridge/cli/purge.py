"""`bridge purge`: delete what housekeeping deletes, at once (for cron, or with the background purge off)."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli.directory import directory_database
from bridge.cli.output import emit
from bridge.config import Settings
from bridge.services.housekeeping import RetentionPolicy, count_purgeable, purge_until_done


def register(commands: argparse._SubParsersAction[Any]) -> None:
    purge = commands.add_parser(
        "purge",
        help="delete expired codes, flow steps, sessions, tokens, activation links, throttle counters and old mail; "
        "remove the personal data of cabinets deactivated longer ago than the retention period and of requests "
        "decided or closed longer ago than theirs",
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    purge.set_defaults(handler=run_purge)


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    housekeeping = settings.housekeeping
    retention = RetentionPolicy.of(housekeeping, settings)
    with directory_database(settings) as factory:
        if args.dry_run:
            report = count_purgeable(factory, retention)
        else:
            report = purge_until_done(factory, retention, batch_size=housekeeping.batch_size)
    data = {"dry_run": args.dry_run, "deleted" if not args.dry_run else "deletable": report.counts,
            "total": report.total}
    heading = "Можно удалить" if args.dry_run else "Удалено"
    lines = [f"{heading} строк: {report.total}."]
    lines += [f"  {table}: {count}" for table, count in report.counts.items() if count]
    emit(args, data, "\n".join(lines))
    return 0
