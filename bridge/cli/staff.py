"""`bridge staff ...`: register staff, add roles, reset passwords, lift sign-in locks, show cards and lists.

Every command runs in one transaction; a refusal rolls it back and is audited on its own.
Also holds what the directory commands (org, audit) share: opening the database, the actor.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.cli.output import emit
from bridge.config import Settings
from bridge.services.actors import Actor, actor_for_login, cli_support_actor
from bridge.services.audit import CLI_SUPPORT_ACTOR, AuditContext
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import DomainError
from bridge.services.refusals import audited_refusals
from bridge.services.roles import Role, role_title
from bridge.services.staff import (
    NewStaff,
    RoleGrant,
    StaffCard,
    add_role,
    get_managed_staff,
    managed_staff,
    register_staff,
    reset_password,
    staff_card,
    unlock_password_signin,
)
from bridge.storage.database import build_engine, build_sessionmaker, transaction

SAVE_REMINDER = (
    "Сохраните логин и пароль: пароль показывается один раз. Они нужны для первого входа "
    "и привязки учётной записи к Госуслугам (РСАА)."
)


# --- shared by the directory commands --------------------------------------------------------


@contextmanager
def directory_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory for a database that has the bridge's schema, or a clear refusal."""
    engine = build_engine(settings.database_url)
    try:
        try:
            with engine.connect() as connection:
                ready = inspect(connection).has_table("staff_members")
        except OperationalError as error:
            raise DomainError(
                "database_unavailable",
                f"Не удалось подключиться к базе данных ({error.__class__.__name__}). "
                "Проверьте BRIDGE_DATABASE_URL.",
            ) from None
        if not ready:
            raise DomainError(
                "schema_missing", "В базе данных нет таблиц моста. Сначала выполните: bridge db upgrade"
            )
        yield build_sessionmaker(engine)
    finally:
        engine.dispose()


def audit_context_of(args: argparse.Namespace) -> AuditContext:
    acting_as: str | None = args.acting_as
    return AuditContext(actor=acting_as or CLI_SUPPORT_ACTOR)


def actor_of(db: Session, args: argparse.Namespace) -> Actor:
    acting_as: str | None = args.acting_as
    return actor_for_login(db, acting_as) if acting_as else cli_support_actor()


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ожидается дата в виде ГГГГ-ММ-ДД, а не «{value}»") from None


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
    add.add_argument("--note")
    add.set_defaults(handler=run_add)

    add_role_parser = actions.add_parser("add-role", help="give an existing staff member another role")
    add_role_parser.add_argument("login")
    add_role_parser.add_argument("--org", type=int, required=True, metavar="ID")
    add_role_parser.add_argument("--role", required=True, choices=role_values)
    add_role_parser.add_argument("--start", type=parse_date, default=None, metavar="YYYY-MM-DD")
    add_role_parser.add_argument("--end", type=parse_date, default=None, metavar="YYYY-MM-DD")
    add_role_parser.set_defaults(handler=run_add_role)

    reset = actions.add_parser("reset-password", help="issue a new password; bindings and sessions end")
    reset.add_argument("login")
    reset.set_defaults(handler=run_reset_password)

    unlock = actions.add_parser("unlock", help="lift the throttle on password sign-in for this login")
    unlock.add_argument("login")
    unlock.set_defaults(handler=run_unlock)

    show = actions.add_parser("show", help="the staff card (never a password)")
    show.add_argument("login")
    show.set_defaults(handler=run_show)

    listing = actions.add_parser("list", help="staff members you manage")
    listing.add_argument("--org", type=int, metavar="ID")
    listing.set_defaults(handler=run_list)


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    grant = RoleGrant(args.org, args.role, args.start or date.today(), args.end)
    new = NewStaff(
        surname=args.surname,
        name=args.name,
        patronymic=args.patronymic,
        no_patronymic=args.no_patronymic,
        grant=grant,
        snils=args.snils,
        email=args.email,
        note=args.note,
    )
    with (
        directory_database(settings) as factory,
        audited_refusals(
            factory, audit_context_of(args), "staff.register", role=args.role, organization_id=args.org
        ),
        transaction(factory) as db,
    ):
        registration = register_staff(db, actor_of(db, args), new, credential_ttl=settings.credential_ttl)
        card = staff_card(db, registration.staff)
    _emit_credential(args, registration.credential, card, f"Сотрудник зарегистрирован: {card.full_name}")
    return 0


def run_add_role(args: argparse.Namespace, settings: Settings) -> int:
    grant = RoleGrant(args.org, args.role, args.start or date.today(), args.end)
    with (
        directory_database(settings) as factory,
        audited_refusals(
            factory, audit_context_of(args), "role.add", login=args.login, role=args.role,
            organization_id=args.org,
        ),
        transaction(factory) as db,
    ):
        addition = add_role(db, actor_of(db, args), args.login, grant, credential_ttl=settings.credential_ttl)
        card = staff_card(db, addition.staff)
    headline = f"Роль «{role_title(addition.role.role)}» добавлена: {card.full_name} ({card.login})"
    if addition.credential is not None:
        _emit_credential(args, addition.credential, card, headline)
    else:
        emit(args, {"staff": _card_json(card), "credential": None}, headline)
    return 0


def run_reset_password(args: argparse.Namespace, settings: Settings) -> int:
    with (
        directory_database(settings) as factory,
        audited_refusals(factory, audit_context_of(args), "credential.reset", login=args.login),
        transaction(factory) as db,
    ):
        reset = reset_password(db, actor_of(db, args), args.login, credential_ttl=settings.credential_ttl)
        card = staff_card(db, reset.staff)
    retirement = reset.retirement
    headline = (
        f"Пароль сброшен: {card.full_name}. Привязок удалено: {retirement.bindings_removed}, "
        f"сеансов завершено: {retirement.sessions_ended}. При следующем входе нужна новая привязка."
    )
    _emit_credential(args, reset.credential, card, headline, extra={"retired": asdict(retirement)})
    return 0


def run_unlock(args: argparse.Namespace, settings: Settings) -> int:
    with (
        directory_database(settings) as factory,
        audited_refusals(factory, audit_context_of(args), "throttle.unlock", login=args.login),
        transaction(factory) as db,
    ):
        lift = unlock_password_signin(db, actor_of(db, args), args.login)
        card = staff_card(db, lift.staff)
    headline = (
        f"Блокировка входа по паролю снята: {card.full_name} ({card.login}). "
        f"Сброшено счётчиков неудачных попыток: {lift.counters_cleared}."
    )
    emit(args, {"staff": _card_json(card), "counters_cleared": lift.counters_cleared}, headline)
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as factory, transaction(factory) as db:
        card = staff_card(db, get_managed_staff(db, actor_of(db, args), args.login))
    emit(args, {"staff": _card_json(card)}, _card_text(card))
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with directory_database(settings) as factory, transaction(factory) as db:
        cards = managed_staff(db, actor_of(db, args), organization_id=args.org)
    lines = [
        f"{card.login:<20} {card.full_name:<40} "
        + "; ".join(f"{role.title} — {role.organization_name}" for role in card.roles)
        for card in cards
    ]
    emit(args, {"staff": [_card_json(card) for card in cards]}, "\n".join(lines) or "Сотрудников нет.")
    return 0


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
        f"ФИО:      {card.full_name}" + (" (без отчества)" if card.no_patronymic else ""),
        f"Логин:    {card.login}",
        f"Состояние: {'заблокирован' if card.status != 'active' else 'активен'}",
        f"СНИЛС:    {card.snils or '—'}",
        f"E-mail:   {card.email or '—'}",
        f"Примечание: {card.note or '—'}",
        f"Выданный пароль: {card.credential_status_title}; выдан {_when(card.credential_issued_at)}, "
        f"действует до {_when(card.credential_expires_at)}, использован {_when(card.credential_used_at)}",
        "Роли:",
    ]
    lines += [
        f"  {role.title} — {role.organization_name} (№{role.organization_id}), "
        f"с {_when(role.start_date)} по {_when(role.end_date)}{'' if role.active else ' [не действует]'}"
        for role in card.roles
    ] or ["  нет"]
    lines.append("Привязки:")
    lines += [
        f"  {binding.provider}: с {_when(binding.created_at)}, последний вход {_when(binding.last_used_at)}"
        for binding in card.bindings
    ] or ["  нет"]
    return "\n".join(lines)
