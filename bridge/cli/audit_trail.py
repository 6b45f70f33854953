"""`bridge audit verify | anchor | export | purge`: the hash-chained audit trail (technical support only).

`verify` exits 3 when the chain is broken, so a cron job can tell tampering (3) from a refusal
such as an unreachable database (1).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bridge.application import audit_log, audit_trail
from bridge.cli.audit_filters import add_filter_arguments, audit_filter, narrowed
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit
from bridge.config import Settings
from bridge.services.audit_anchors import trusted_keys_from_jwks
from bridge.services.audit_export import ExportFormat, ExportSummary
from bridge.services.errors import InvalidInput

EXIT_BROKEN = 3


def register_chain_commands(actions: argparse._SubParsersAction[Any]) -> None:
    verify = actions.add_parser("verify", help="recompute the hash chain and check the signed anchors")
    verify.add_argument(
        "--from-last-anchor", action="store_true",
        help="trust the records up to the newest valid anchor and check only what follows",
    )
    verify.add_argument(
        "--jwks", type=Path, metavar="FILE",
        help="accept only anchors signed by these public keys (a JWKS kept outside the database)",
    )
    verify.set_defaults(handler=run_verify)

    anchor = actions.add_parser("anchor", help="sign the chain's head now")
    anchor.set_defaults(handler=run_anchor)

    export = actions.add_parser("export", help="stream the records, with seq and hashes, for a SIEM")
    export.add_argument("--format", choices=[f.value for f in ExportFormat], default=ExportFormat.JSONL.value)
    export.add_argument("--since", type=_moment, metavar="DATE", help="records from this date (UTC) on")
    export.add_argument("--after-seq", type=int, metavar="N", help="records after seq N (to continue an export)")
    export.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    # With a filter the export is the audit viewer's filtered view, in the reader's subtree.
    add_filter_arguments(export)
    export.add_argument("--event", dest="view_event", metavar="PREFIX", help='e.g. "credential."')
    export.set_defaults(handler=run_export)

    purge = actions.add_parser(
        "purge", help="remove records older than a date, after a signed anchor that covers them"
    )
    purge.add_argument(
        "--before", type=_moment, metavar="DATE",
        help="default: today minus BRIDGE_AUDIT_RETENTION_DAYS (UTC); never later than that",
    )
    purge.set_defaults(handler=run_purge)


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    trusted = _read_jwks(args.jwks) if args.jwks else None
    with directory_database(settings) as database:
        report = audit_trail.verify_audit_trail(
            database, acting_as(args), trusted_keys=trusted, from_last_anchor=args.from_last_anchor
        )
    emit(args, report.as_json(), report.line())
    return 0 if report.intact else EXIT_BROKEN


def run_anchor(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        anchor = audit_trail.anchor_audit_trail(database, acting_as(args))
    data = {
        "seq": anchor.seq, "hash": anchor.hash, "kid": anchor.kid, "jws": anchor.jws,
        "created_at": anchor.created_at.isoformat(),
    }
    emit(
        args, data,
        f"Якорь записан: seq {anchor.seq}, хеш {anchor.hash}, ключ {anchor.kid}.\n"
        f"Сохраните его вне базы данных:\n{anchor.jws}",
    )
    return 0


def _export(args: argparse.Namespace, database: Any, out: TextIO) -> ExportSummary:
    format = ExportFormat(args.format)
    if narrowed(args):
        view = audit_filter(args)
        return audit_log.export_audit_view(database, acting_as(args), view, out, format)
    return audit_trail.export_audit_trail(
        database, acting_as(args), out, format, since=args.since, after_seq=args.after_seq
    )


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        if args.output is None:
            summary = _export(args, database, sys.stdout)
        else:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                summary = _export(args, database, out)
    span = f"seq {summary.first_seq}–{summary.last_seq}" if summary.records else "—"
    # The records own standard output when no file is given: the summary goes to standard error.
    print(f"Выгружено записей: {summary.records} ({span}).", file=sys.stderr if args.output is None else sys.stdout)
    return 0


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        result = audit_trail.purge_audit_trail(database, acting_as(args), settings.audit, args.before)
    data = {
        "before": result.cutoff.isoformat(),
        "through_seq": result.through_seq,
        "deleted": result.deleted,
        "anchor": None if result.anchor is None else {"seq": result.anchor.seq, "jws": result.anchor.jws},
    }
    day = result.cutoff.date().isoformat()
    if result.anchor is None and result.deleted == 0:
        text = f"Записей старше {day} нет: ничего не удалено."
    else:
        text = (
            f"Удалено записей старше {day}: {result.deleted}; "
            f"журнал теперь начинается после seq {result.through_seq}."
        )
    emit(args, data, text)
    return 0


def _read_jwks(path: Path) -> dict[str, dict[str, Any]]:
    try:
        return trusted_keys_from_jwks(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise InvalidInput("jwks_unreadable", f"Не удалось прочитать ключи из {path}: {error}") from None


def _moment(value: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 moment (UTC unless it names an offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"не дата: {value!r} (ГГГГ-ММ-ДД)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
