"""The audit viewer's filters as CLI flags: `bridge audit` and `bridge audit export` read them alike."""

from __future__ import annotations

import argparse

from bridge.application.audit_log import AuditFilter
from bridge.cli.directory import parse_date


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The audit viewer's filters, the same at `bridge audit` and `bridge audit export`."""
    parser.add_argument("--from", dest="view_since", type=parse_date, metavar="DATE", help="from this day (МСК)")
    parser.add_argument("--until", dest="view_until", type=parse_date, metavar="DATE", help="up to this day (МСК)")
    parser.add_argument("--actor", dest="view_actor", metavar="LOGIN", help="done by this login (or cli:support)")
    parser.add_argument("--subject", dest="view_subject", metavar="LOGIN", help="about this person")
    parser.add_argument("--org", dest="view_org", type=int, metavar="ID", help="in this organization")


def audit_filter(args: argparse.Namespace) -> AuditFilter:
    return AuditFilter(
        since=args.view_since, until=args.view_until, actor=args.view_actor, subject=args.view_subject,
        person=getattr(args, "login", None), event=getattr(args, "view_event", None) or getattr(args, "event", None),
        organization_id=args.view_org,
    )


def narrowed(args: argparse.Namespace) -> bool:
    """Whether any filter was given (an export of the whole chain has none)."""
    return any(
        getattr(args, name, None) is not None
        for name in ("view_since", "view_until", "view_actor", "view_subject", "view_org", "view_event")
    )
