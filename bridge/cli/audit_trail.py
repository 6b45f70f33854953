"""`bridge audit verify | anchor | export | purge`: the hash-chained audit trail (technical support only).

`verify` exits 3 when the chain is broken, so a cron job can tell tampering (3) from a refusal
such as an unreachable database (1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.cli.output import emit
from bridge.cli.staff import audit_context_of, directory_database
from bridge.config import Settings
from bridge.services.audit_anchors import trusted_keys_from_jwks
from bridge.services.audit_chain import anchor_head
from bridge.services.audit_export import ExportFormat, export_audit_trail
from bridge.services.audit_retention import purge_audit_trail, purge_cutoff
from bridge.services.audit_settings import AuditSettings, configure_audit
from bridge.services.audit_verification import verify_chain
from bridge.services.errors import InvalidInput, PermissionDenied
from bridge.storage.database import transaction

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
    _support_only(args)
    trusted = _read_jwks(args.jwks) if args.jwks else None
    with _audit_database(settings) as factory, transaction(factory) as db:
        report = verify_chain(db, trusted_keys=trusted, from_last_anchor=args.from_last_anchor)
        data = report.as_json()
    emit(args, data, report.line())
    return 0 if report.intact else EXIT_BROKEN


def run_anchor(args: argparse.Namespace, settings: Settings) -> int:
    _support_only(args)
    with _audit_database(settings) as factory, transaction(factory) as db:
        anchor = anchor_head(db)
        if anchor is None:
            raise InvalidInput("audit_empty", "Журнал аудита пуст: закреплять нечего.")
        data = {"seq": anchor.seq, "hash": anchor.hash, "kid": anchor.kid, "jws": anchor.jws,
                "created_at": anchor.created_at.isoformat()}
    emit(
        args, data,
        f"Якорь записан: seq {data['seq']}, хеш {data['hash']}, ключ {data['kid']}.\n"
        f"Сохраните его вне базы данных:\n{data['jws']}",
    )
    return 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    _support_only(args)
    format = ExportFormat(args.format)
    with _audit_database(settings) as factory, transaction(factory) as db:
        if args.output is None:
            summary = export_audit_trail(db, sys.stdout, format, since=args.since, after_seq=args.after_seq)
        else:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                summary = export_audit_trail(db, out, format, since=args.since, after_seq=args.after_seq)
    span = f"seq {summary.first_seq}–{summary.last_seq}" if summary.records else "—"
    # The records own standard output when no file is given: the summary goes to standard error.
    print(f"Выгружено записей: {summary.records} ({span}).", file=sys.stderr if args.output is None else sys.stdout)
    return 0


def run_purge(args: argparse.Namespace, settings: Settings) -> int:
    _support_only(args)
    cutoff = purge_cutoff(_audit_settings(), args.before)
    with _audit_database(settings) as factory:
        result = purge_audit_trail(factory, audit_context_of(args), cutoff)
    data = {
        "before": result.cutoff.isoformat(),
        "through_seq": result.through_seq,
        "deleted": result.deleted,
        "anchor": None if result.anchor is None else {"seq": result.anchor.seq, "jws": result.anchor.jws},
    }
    text = (
        f"Удалено записей старше {result.cutoff.date().isoformat()}: {result.deleted}; "
        f"журнал теперь начинается после seq {result.through_seq}."
    )
    if result.anchor is None and result.deleted == 0:
        text = f"Записей старше {result.cutoff.date().isoformat()} нет: ничего не удалено."
    emit(args, data, text)
    return 0


def _audit_settings() -> AuditSettings:
    # Read here until Settings carries it (settings.audit), like BRIDGE_SMTP_* today.
    return AuditSettings.from_environ(os.environ)


@contextmanager
def _audit_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    with directory_database(settings) as factory:
        yield configure_audit(factory, _audit_settings())


def _support_only(args: argparse.Namespace) -> None:
    if args.acting_as:
        raise PermissionDenied(
            "support_only", "Журналом аудита занимается техническая поддержка: выполните команду без --acting-as."
        )


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
