"""`bridge support ...`: the queue of «обращения в техническую службу» (technical support).

The same use cases as support's pages (bridge/application/support_queue.py): list, show one with
the accounts that may be the person's, resolve with an existing use case and close.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from bridge.application import support_queue
from bridge.application.staff_cards import StaffAdminPolicy
from bridge.application.support_queue import SupportItem, SupportOutcome, SupportResolution
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.cli.requests import activation_links
from bridge.config import Settings
from bridge.services.moscow_time import moscow_datetime


def register(commands: argparse._SubParsersAction[Any]) -> None:
    support = commands.add_parser("support", help="requests to technical support: «Не могу войти», deactivation")
    actions = support.add_subparsers(dest="support_command", required=True)

    listing = actions.add_parser("list", help="open requests, oldest first")
    listing.add_argument("--all", action="store_true", help="closed requests too")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one request, with the accounts that may be the person's")
    show.add_argument("item_id", type=int, metavar="ID")
    show.set_defaults(handler=run_show)

    resolve = actions.add_parser("resolve", help="act on the request with an existing use case and close it")
    resolve.add_argument("item_id", type=int, metavar="ID")
    resolve.add_argument("--outcome", required=True, choices=[outcome.value for outcome in SupportOutcome])
    resolve.add_argument("--login", help="the account to act on (a deactivation request names its own)")
    resolve.add_argument("--note", help="the answer mailed to the person")
    resolve.set_defaults(handler=run_resolve)


def _item_json(item: SupportItem) -> dict[str, Any]:
    return asdict(item)


def _line(item: SupportItem) -> str:
    closed = f" [закрыто {moscow_datetime(item.closed_at)}: {item.outcome_title}]" if item.closed_at else ""
    return (
        f"№{item.id:<5} {item.kind_title}: {visible(item.full_name)}"
        + (f", {visible(item.organization)}" if item.organization else "")
        + f"; подано {moscow_datetime(item.created_at)} (МСК){closed}"
    )


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        items = support_queue.list_support_queue(database, acting_as(args), include_closed=args.all)
    emit(args, {"support_requests": [_item_json(item) for item in items]},
         "\n".join(_line(item) for item in items) or "Открытых обращений нет.")
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        item = support_queue.show_support_request(database, acting_as(args), args.item_id)
    lines = [_line(item), f"Почта для ответа: {visible(item.email or '—')}"]
    if item.login:
        lines.append(f"Логин: {item.login}")
    if item.message:
        lines.append(f"Текст: {visible(item.message)}")
    lines += [f"  возможно: {candidate.login} — {visible(candidate.full_name)}" for candidate in item.candidates]
    emit(args, {"support_request": _item_json(item)}, "\n".join(lines))
    return 0


def run_resolve(args: argparse.Namespace, settings: Settings) -> int:
    resolution = SupportResolution(outcome=SupportOutcome(args.outcome), login=args.login, note=args.note)
    with directory_database(settings) as database:
        resolved = support_queue.resolve_support_request(
            database, acting_as(args), args.item_id, resolution,
            policy=StaffAdminPolicy.of(settings), links=activation_links(settings),
        )
    data: dict[str, Any] = {"support_request": _item_json(resolved.item)}
    text = f"Обращение №{resolved.item.id} закрыто: {resolved.item.outcome_title}."
    if resolved.credential is not None:
        # Shown once, here: the person gets it from support or their administrator, never by mail.
        data["credential"] = {"login": resolved.credential.login, "password": resolved.credential.password,
                              "expires_at": resolved.credential.expires_at}
        text += f"\nЛогин: {resolved.credential.login}\nПароль: {resolved.credential.password}"
    emit(args, data, text)
    return 0
