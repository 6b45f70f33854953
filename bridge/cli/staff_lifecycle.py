"""`bridge staff edit|end-role|role-dates|block|unblock|deactivate|unbind|end-sessions`.

The same use cases as the card's pages (`bridge/routes/admin_lifecycle.py`), so the same person
may do the same things; `--acting-as LOGIN` acts as that person, without it technical support.
The commands act at once: the terminal is the confirmation.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from bridge.application import role_grants, signin_recovery, staff_cards, staff_lifecycle
from bridge.application.staff_cards import CardEdit, StaffAdminPolicy
from bridge.application.staff_lifecycle import DeactivationReason
from bridge.cli.directory import acting_as, directory_database, parse_date
from bridge.cli.output import emit
from bridge.config import Settings
from bridge.services.moscow_time import moscow_date, moscow_today


def register(actions: argparse._SubParsersAction[Any]) -> None:
    """Add the lifecycle commands to `bridge staff`."""
    edit = actions.add_parser("edit", help="change ФИО, e-mail, phone or note (only the fields given)")
    edit.add_argument("login")
    edit.add_argument("--surname")
    edit.add_argument("--name")
    patronymic = edit.add_mutually_exclusive_group()
    patronymic.add_argument("--patronymic")
    patronymic.add_argument("--no-patronymic", action="store_true")
    edit.add_argument("--email", help='"" removes it')
    edit.add_argument("--phone", help='e.g. "+7 916 123-45-67"; "" removes it')
    edit.add_argument("--note", help='"" removes it')
    edit.set_defaults(handler=run_edit)

    end_role = actions.add_parser("end-role", help="end one of a person's roles (its id: `bridge staff show`)")
    end_role.add_argument("login")
    end_role.add_argument("role_id", type=int, metavar="ROLE_ID")
    end_role.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD", help="the last day; default: today")
    end_role.set_defaults(handler=run_end_role)

    dates = actions.add_parser("role-dates", help="change the start and end of one of a person's roles")
    dates.add_argument("login")
    dates.add_argument("role_id", type=int, metavar="ROLE_ID")
    dates.add_argument("--start", type=parse_date, required=True, metavar="YYYY-MM-DD")
    end = dates.add_mutually_exclusive_group()
    end.add_argument("--end", type=parse_date, metavar="YYYY-MM-DD")
    end.add_argument("--no-end", action="store_true", help="the role runs without an end date")
    dates.set_defaults(handler=run_role_dates)

    block = actions.add_parser("block", help="block sign-in at once (sessions end); mailed to the person")
    block.add_argument("login")
    block.add_argument("--reason", required=True)
    block.set_defaults(handler=run_block)

    unblock = actions.add_parser("unblock", help="lift a block: sign-in through the bindings works again")
    unblock.add_argument("login")
    unblock.set_defaults(handler=run_unblock)

    deactivate = actions.add_parser(
        "deactivate", help="switch the cabinet off for good; personal data goes after the retention period"
    )
    deactivate.add_argument("login")
    deactivate.add_argument("--reason", required=True, choices=[reason.value for reason in DeactivationReason])
    deactivate.set_defaults(handler=run_deactivate)

    unbind = actions.add_parser("unbind", help="remove the binding to one provider (no password reset)")
    unbind.add_argument("login")
    unbind.add_argument("provider", help="esia, rsaa, …")
    unbind.set_defaults(handler=run_unbind)

    end_sessions = actions.add_parser("end-sessions", help="sign the person out everywhere; apps lose access")
    end_sessions.add_argument("login")
    end_sessions.set_defaults(handler=run_end_sessions)


def run_edit(args: argparse.Namespace, settings: Settings) -> int:
    edit = CardEdit(
        surname=args.surname, name=args.name, patronymic=args.patronymic,
        no_patronymic=True if args.no_patronymic else None, email=args.email, phone=args.phone, note=args.note,
    )
    with directory_database(settings) as database:
        saved = staff_cards.edit_staff_card(database, acting_as(args), args.login, edit, StaffAdminPolicy.of(settings))
    login = saved.staff.card.login
    headline = f"Данные сохранены: {login} (изменено: {', '.join(saved.changed)})" if saved.changed else (
        f"Изменений нет: {login}"
    )
    emit(args, {"staff": asdict(saved.staff.card), "changed": list(saved.changed)}, headline)
    return 0


def run_end_role(args: argparse.Namespace, settings: Settings) -> int:
    end = args.end or moscow_today()
    with directory_database(settings) as database:
        ended = role_grants.end_role(
            database, acting_as(args), args.login, args.role_id, end, StaffAdminPolicy.of(settings)
        )
    role = ended.role
    headline = f"Роль «{role.title}» в «{role.organization_name}» действует по {end:%d.%m.%Y} включительно."
    emit(args, {"role": asdict(role), "changed": ended.changed}, headline)
    return 0


def run_role_dates(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        changed = role_grants.change_role_dates(
            database, acting_as(args), args.login, args.role_id, args.start, None if args.no_end else args.end,
            StaffAdminPolicy.of(settings),
        )
    role = changed.role
    until = f"по {role.end_date:%d.%m.%Y}" if role.end_date else "без конечной даты"
    headline = f"Роль «{role.title}» в «{role.organization_name}»: с {role.start_date:%d.%m.%Y} {until}."
    emit(args, {"role": asdict(role), "changed": changed.changed}, headline)
    return 0


def run_block(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        blocked = staff_lifecycle.block_staff(
            database, acting_as(args), args.login, args.reason, StaffAdminPolicy.of(settings)
        )
    access = blocked.access
    headline = (
        f"Учётная запись заблокирована: {blocked.staff.card.login}. Сеансов завершено: {access.sessions_ended}, "
        f"токенов отозвано: {access.tokens_revoked}, ссылок активации отозвано: {access.links_revoked}."
    )
    emit(args, {"staff": asdict(blocked.staff.card), "access": asdict(access)}, headline)
    return 0


def run_unblock(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        unblocked = staff_lifecycle.unblock_staff(database, acting_as(args), args.login, StaffAdminPolicy.of(settings))
    emit(args, {"staff": asdict(unblocked.staff.card)}, f"Учётная запись разблокирована: {unblocked.staff.card.login}.")
    return 0


def run_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        deactivated = staff_lifecycle.deactivate_staff(
            database, acting_as(args), args.login, args.reason, StaffAdminPolicy.of(settings)
        )
    view = deactivated.staff
    due = view.personal_data_removal_due
    headline = (
        f"Кабинет отключён: {view.card.login}. Сеансов завершено: {deactivated.access.sessions_ended}. "
        + (f"Персональные данные будут удалены {moscow_date(due)}." if due else "")
    )
    data = {"staff": asdict(view.card), "access": asdict(deactivated.access),
            "personal_data_removal_due": due.isoformat() if due else None}
    emit(args, data, headline)
    return 0


def run_unbind(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        unbound = signin_recovery.unbind_external_identity(
            database, acting_as(args), args.login, args.provider, StaffAdminPolicy.of(settings)
        )
    headline = (
        f"Привязка к «{unbound.provider}» удалена: {unbound.staff.card.login}. "
        f"Сеансов завершено: {unbound.sessions.sessions_ended}."
    )
    emit(args, {"staff": asdict(unbound.staff.card), "sessions": asdict(unbound.sessions)}, headline)
    return 0


def run_end_sessions(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        ended = signin_recovery.end_staff_sessions(
            database, acting_as(args), args.login, StaffAdminPolicy.of(settings)
        )
    headline = (
        f"Сеансы завершены: {ended.staff.card.login}. Сеансов: {ended.sessions.sessions_ended}, "
        f"токенов отозвано: {ended.sessions.tokens_revoked}."
    )
    emit(args, {"staff": asdict(ended.staff.card), "sessions": asdict(ended.sessions)}, headline)
    return 0
