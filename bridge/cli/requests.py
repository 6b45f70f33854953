"""`bridge requests ...`: the «Заявки на подключение» an administrator decides, and activation links.

An adapter, like `bridge staff`: each command is one call of bridge/application/registration.py,
the same as on the «Заявки» page, so the issuing hierarchy decides who may approve what. An
activation link is mailed, never printed: nobody but its recipient sees it.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from starlette.routing import Router

from bridge.application import registration
from bridge.application.registration import ActivationLinks, RequestView
from bridge.cli.directory import acting_as, directory_database
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.moscow_time import moscow_datetime
from bridge.services.roles import Role


def register(commands: argparse._SubParsersAction[Any]) -> None:
    requests = commands.add_parser("requests", help="registration requests («Заявки на подключение»)")
    actions = requests.add_subparsers(dest="requests_command", required=True)

    listing = actions.add_parser("list", help="waiting requests you may decide, and people who have not activated")
    listing.set_defaults(handler=run_list)

    approve = actions.add_parser("approve", help="approve: the person, the role, an activation link by mail")
    approve.add_argument("request_id", type=int, metavar="ID")
    approve.add_argument("--role", required=True, choices=[role.value for role in Role if role is not Role.SUPPORT])
    approve.add_argument(
        "--existing", metavar="LOGIN", help="give the role to this staff member (who asked) instead of a new one"
    )
    approve.set_defaults(handler=run_approve)

    reject = actions.add_parser("reject", help="reject with a reason (mailed to the person)")
    reject.add_argument("request_id", type=int, metavar="ID")
    reject.add_argument("--reason", required=True)
    reject.set_defaults(handler=run_reject)

    resend = actions.add_parser("resend", help="mail a new activation link; older links stop working")
    resend.add_argument("login")
    resend.set_defaults(handler=run_resend)


def activation_links(settings: Settings) -> ActivationLinks:
    """The activation page at the bridge's public address, its path from the route table."""
    from bridge.app import collect_routes

    return ActivationLinks(settings.public_url + str(Router(routes=collect_routes()).url_path_for("activate")))


def _request_json(view: RequestView) -> dict[str, Any]:
    data = asdict(view)
    data["roles"] = [role.value for role, _ in view.roles]
    data["requested"] = view.requested.value
    return data


def _request_text(view: RequestView) -> str:
    roles = ", ".join(f"{role.value} ({title})" for role, title in view.roles)
    lines = [
        f"№{view.id}  {visible(view.full_name)} — {visible(view.organization_name)}",
        f"      {view.requested_title}: {visible(view.position)}; {visible(view.email)}; "
        f"подана {moscow_datetime(view.created_at)} (МСК)",
        f"      можно одобрить с ролью: {roles or '—'}",
    ]
    if view.namesake_login:
        lines.append(f"      в организации уже есть сотрудник с такими ФИО: {view.namesake_login} (--existing)")
    return "\n".join(lines)


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        pending = registration.list_pending_requests(database, acting_as(args))
        awaiting = registration.list_awaiting_activation(database, acting_as(args))
    text = ["Заявки:"] + ([_request_text(view) for view in pending] or ["  новых заявок нет"])
    text += ["Одобрены, но ещё не вошли:"] + (
        [f"  {person.login:<20} {visible(person.full_name)} — {visible(person.organization_name)}; "
         f"{visible(person.email)}" for person in awaiting]
        or ["  нет"]
    )
    data = {"requests": [_request_json(view) for view in pending], "awaiting_activation": [asdict(a) for a in awaiting]}
    emit(args, data, "\n".join(text))
    return 0


def run_approve(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        approved = registration.approve_request(
            database, acting_as(args), args.request_id, args.role, activation_links(settings),
            existing_login=args.existing,
        )
    if approved.link_expires_at is not None:
        sent = (
            f"Ссылка для первого входа отправлена на {approved.email}; действует до "
            f"{moscow_datetime(approved.link_expires_at)} (МСК)."
        )
    else:
        sent = f"Учётная запись уже привязана: письмо о новой роли отправлено на {approved.email}."
    emit(
        args, {"approved": asdict(approved)},
        f"Заявка №{approved.request_id} одобрена: {approved.full_name} ({approved.login}), "
        f"«{approved.role_title}» — {approved.organization_name}.\n{sent}",
    )
    return 0


def run_reject(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        rejected = registration.reject_request(database, acting_as(args), args.request_id, args.reason)
    emit(
        args, {"rejected": asdict(rejected)},
        f"Заявка №{rejected.request_id} отклонена; причина отправлена на {rejected.email}.",
    )
    return 0


def run_resend(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        resent = registration.resend_activation(database, acting_as(args), args.login, activation_links(settings))
    emit(
        args, {"resent": asdict(resent)},
        f"Новая ссылка для первого входа отправлена на {resent.email} ({resent.login}); действует до "
        f"{moscow_datetime(resent.expires_at)} (МСК). Прежние ссылки больше не действуют.",
    )
    return 0
