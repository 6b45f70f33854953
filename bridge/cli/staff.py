"""`bridge staff ...`: register staff, add roles, reset passwords, lift sign-in locks, show cards and lists;
the lifecycle commands (edit, end-role, block, deactivate, …) are `bridge/cli/staff_lifecycle.py`.

An adapter: each command turns its arguments into one call of `bridge/application/` and prints
what it returns. Who may do what is decided there, the same as on the administration pages.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from typing import Any

from bridge.application import (
    role_grants,
    signin_recovery,
    staff_cards,
    staff_profile,
    staff_registry,
)
from bridge.application.role_grants import RoleGrant
from bridge.application.staff_cards import StaffAdminPolicy
from bridge.application.staff_profile import ProfileChanges, StaffProfile
from bridge.application.staff_registry import NewStaff
from bridge.cli import staff_files, staff_lifecycle
from bridge.cli.directory import acting_as, directory_database, parse_date
from bridge.cli.output import emit, visible
from bridge.config import Settings
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError
from bridge.services.phones import formatted_phone
from bridge.services.roles import Role
from bridge.services.staff_cards import StaffCard

SAVE_REMINDER = (
    "Сохраните логин и пароль: пароль показывается один раз. Они нужны для первого входа "
    "и привязки учётной записи к Госуслугам (РСАА)."
)


# --- commands --------------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[Any]) -> None:
    staff = commands.add_parser("staff", help="staff members, their roles and issued passwords")
    actions = staff.add_subparsers(dest="staff_command", required=True)
    role_values = [role.value for role in Role]

    add = actions.add_parser("add", help="register a staff member with a first role; prints the password once")
    add.add_argument("--org", type=int, required=True, metavar="ID")
    add.add_argument("--role", required=True, choices=role_values)
    add.add_argument("--surname", required=True)
    add.add_argument("--name", required=True)
    patronymic = add.add_mutually_exclusive_group()
    patronymic.add_argument("--patronymic")
    patronymic.add_argument("--no-patronymic", action="store_true")
    add.add_argument("--start", type=parse_date, default=None, metavar="YYYY-MM-DD", help="default: today")
    add.add_argument("--end", type=parse_date, default=None, metavar="YYYY-MM-DD")
    add.add_argument("--snils")
    add.add_argument("--email")
    add.add_argument("--phone", help="work phone, e.g. '+7 495 123-45-67, доб. 12'")
    add.add_argument("--position", help="job title in that organization, e.g. 'учитель математики'")
    add.add_argument("--note")
    add.set_defaults(handler=run_add)

    add_role_parser = actions.add_parser("add-role", help="give an existing staff member another role")
    add_role_parser.add_argument("login")
    add_role_parser.add_argument("--org", type=int, required=True, metavar="ID")
    add_role_parser.add_argument("--role", required=True, choices=role_values)
    add_role_parser.add_argument("--start", type=parse_date, default=None, metavar="YYYY-MM-DD")
    add_role_parser.add_argument("--end", type=parse_date, default=None, metavar="YYYY-MM-DD")
    add_role_parser.add_argument("--position", help="job title in that organization")
    add_role_parser.set_defaults(handler=run_add_role)

    profile = actions.add_parser(
        "profile",
        help="the person's own workplace data: show it, or confirm it (--acting-as the person themself)",
    )
    profile.add_argument("login")
    profile.add_argument(
        "--position", action="append", default=[], metavar="[ROLE_ID=]TITLE",
        help="job title for a current role (ROLE_ID= may be left out when there is one role); repeatable",
    )
    profile.add_argument("--email", help="work e-mail (default: the one on the card)")
    profile.add_argument("--phone", help="work phone (default: the one on the card; '' removes it)")
    profile_action = profile.add_mutually_exclusive_group()
    profile_action.add_argument("--confirm", action="store_true", help="save and confirm the data")
    profile_action.add_argument("--skip", action="store_true", help="skip the check (only when nothing is missing)")
    profile.set_defaults(handler=run_profile)

    reset = actions.add_parser("reset-password", help="issue a new password; bindings and sessions end")
    reset.add_argument("login")
    reset.set_defaults(handler=run_reset_password)

    unlock = actions.add_parser("unlock", help="lift the throttle on password sign-in for this login")
    unlock.add_argument("login")
    unlock.set_defaults(handler=run_unlock)

    show = actions.add_parser("show", help="the staff card (never a password)")
    show.add_argument("login")
    show.set_defaults(handler=run_show)

    staff_files.register(actions)

    staff_lifecycle.register(actions)


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    new = NewStaff(
        surname=args.surname,
        name=args.name,
        patronymic=args.patronymic,
        no_patronymic=args.no_patronymic,
        grant=_grant(args),
        snils=args.snils,
        email=args.email,
        note=args.note,
        phone=args.phone,
    )
    with directory_database(settings) as database:
        registered = staff_registry.register_staff(
            database, acting_as(args), new, StaffAdminPolicy.of(settings)
        )
    card = registered.staff.card
    _emit_credential(args, registered.credential, card, f"Сотрудник зарегистрирован: {card.full_name}")
    return 0


def run_add_role(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        added = role_grants.add_role(database, acting_as(args), args.login, _grant(args), StaffAdminPolicy.of(settings))
    card = added.staff.card
    headline = f"Роль «{added.role.title}» добавлена: {card.full_name} ({card.login})"
    if added.credential is not None:
        _emit_credential(args, added.credential, card, headline)
    else:
        emit(args, {"staff": _card_json(card), "credential": None}, headline)
    return 0


def run_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        reset = signin_recovery.reset_password(database, acting_as(args), args.login, StaffAdminPolicy.of(settings))
    card, retirement = reset.staff.card, reset.retirement
    headline = (
        f"Пароль сброшен: {card.full_name}. Привязок удалено: {retirement.bindings_removed}, "
        f"сеансов завершено: {retirement.sessions_ended}. При следующем входе нужна новая привязка."
    )
    _emit_credential(args, reset.credential, card, headline, extra={"retired": asdict(retirement)})
    return 0


def run_unlock(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        unlocked = signin_recovery.unlock_password_signin(database, acting_as(args), args.login)
    card = unlocked.card
    headline = (
        f"Блокировка входа по паролю снята: {card.full_name} ({card.login}). "
        f"Сброшено счётчиков неудачных попыток: {unlocked.counters_cleared}."
    )
    emit(args, {"staff": _card_json(card), "counters_cleared": unlocked.counters_cleared}, headline)
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        view = staff_cards.show_staff_card(database, acting_as(args), args.login, StaffAdminPolicy.of(settings))
    emit(args, {"staff": _card_json(view.card)}, _card_text(view.card))
    return 0


def run_profile(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as database:
        principal = acting_as(args)
        if args.skip:
            profile = staff_profile.skip_profile(database, principal, args.login).profile
            headline = "Проверка данных о месте работы пропущена."
        elif args.confirm or args.position or args.email is not None or args.phone is not None:
            current = staff_profile.show_profile(database, principal, args.login)
            changes = _profile_changes(args, current)
            profile = staff_profile.complete_profile(database, principal, args.login, changes).profile
            headline = "Данные о месте работы сохранены."
        else:
            profile = staff_profile.show_profile(database, principal, args.login)
            headline = "Данные о месте работы:"
    emit(args, {"profile": asdict(profile)}, headline + "\n" + _profile_text(profile))
    return 0


def _profile_changes(args: argparse.Namespace, current: StaffProfile) -> ProfileChanges:
    positions = {item.role_assignment_id: item.position or "" for item in current.positions}
    for value in args.position:
        role_id, separator, title = str(value).partition("=")
        if separator and role_id.strip().isdigit():
            positions[int(role_id)] = title
        elif len(current.positions) == 1:
            positions[current.positions[0].role_assignment_id] = str(value)
        else:
            raise DomainError(
                "position_role_required",
                "У сотрудника несколько ролей: укажите должность в виде --position НОМЕР_РОЛИ=ДОЛЖНОСТЬ "
                "(номера ролей показывает `bridge staff profile ЛОГИН`).",
            )
    email = args.email if args.email is not None else current.email or ""
    phone = args.phone if args.phone is not None else current.phone
    return ProfileChanges(positions=positions, email=email, phone=phone or None)


def _profile_text(profile: StaffProfile) -> str:
    lines = [f"{profile.full_name} ({profile.login})"]
    lines += [
        f"  роль №{item.role_assignment_id} «{item.role_title}», {item.organization_name}: "
        f"{item.position or 'должность не указана'}"
        for item in profile.positions
    ]
    lines.append(f"  почта: {profile.email or 'не указана'}{' (подтверждена)' if profile.email_confirmed else ''}")
    lines.append(f"  телефон: {formatted_phone(profile.phone) or 'не указан'}")
    if profile.missing:
        lines.append("Не заполнено обязательное: пропустить проверку нельзя.")
    return "\n".join(lines)


def _grant(args: argparse.Namespace) -> RoleGrant:
    return RoleGrant(args.org, args.role, args.start or date.today(), args.end, position=args.position)


# --- output ----------------------------------------------------------------------------------


def _emit_credential(
    args: argparse.Namespace,
    credential: IssuedCredential,
    card: StaffCard,
    headline: str,
    *,
    extra: dict[str, Any] | None = None,
) -> None:
    data = {
        "staff": _card_json(card),
        "credential": {
            "login": credential.login,
            "password": credential.password,
            "expires_at": credential.expires_at.isoformat(),
        },
        **(extra or {}),
    }
    text = "\n".join(
        [
            headline,
            f"Логин:  {credential.login}",
            f"Пароль: {credential.password}",
            f"Пароль действует до {credential.expires_at:%d.%m.%Y %H:%M} UTC.",
            SAVE_REMINDER,
        ]
    )
    emit(args, data, text)


def _card_json(card: StaffCard) -> dict[str, Any]:
    return asdict(card)


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, date) and not hasattr(value, "hour"):
        return f"{value:%d.%m.%Y}"
    return f"{value:%d.%m.%Y %H:%M} UTC"


def _card_text(card: StaffCard) -> str:
    lines = [
        f"ФИО:      {card.full_name or '— (персональные данные удалены)'}"
        + (" (без отчества)" if card.no_patronymic else ""),
        f"Логин:    {card.login}",
        f"Состояние: {card.status_title}" + _status_details(card),
        f"СНИЛС:    {card.snils_formatted or '—'}",
        f"E-mail:   {card.email or '—'}",
        f"Телефон:  {formatted_phone(card.phone) or '—'}",
        f"Примечание: {card.note or '—'}",
        f"Выданный пароль: {card.credential_status_title}; выдан {_when(card.credential_issued_at)}, "
        f"действует до {_when(card.credential_expires_at)}, использован {_when(card.credential_used_at)}",
        "Роли:",
    ]
    lines += [
        f"  [роль {role.id}] {role.title} — {role.organization_name} (№{role.organization_id}), "
        + (f"должность: {role.position}, " if role.position else "")
        + f"с {_when(role.start_date)} по {_when(role.end_date)}{'' if role.active else ' [не действует]'}"
        for role in card.roles
    ] or ["  нет"]
    lines.append("Привязки:")
    lines += [
        f"  {binding.provider}: с {_when(binding.created_at)}, последний вход {_when(binding.last_used_at)}"
        for binding in card.bindings
    ] or ["  нет"]
    return "\n".join(lines)


def _status_details(card: StaffCard) -> str:
    if card.blocked_at is not None:
        return f" с {_when(card.blocked_at)} ({visible(card.blocked_by or '—')}): {visible(card.blocked_reason or '—')}"
    if card.deactivated_at is not None:
        removed = f", данные удалены {_when(card.personal_data_removed_at)}" if card.personal_data_removed_at else ""
        return f" {_when(card.deactivated_at)} ({card.deactivation_reason_title}){removed}"
    return ""
