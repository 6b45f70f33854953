"""What the directory commands share: the database they work on and whom they act for."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.config import Settings, SettingsError
from bridge.services.audit_chain import chain_at_commit
from bridge.services.audit_settings import configure_audit
from bridge.services.errors import DomainError
from bridge.storage.database import build_engine, build_sessionmaker


@contextmanager
def directory_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A session factory for a database that has the bridge's schema, or a clear refusal."""
    try:
        engine = build_engine(settings.database_url)
    except ArgumentError:
        raise SettingsError(
            "BRIDGE_DATABASE_URL is not a database URL the bridge can use (postgresql://… or sqlite:///…)."
        ) from None
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
        # As in the web app: audit anchors signed with the OP's key, which the keyring unwraps.
        keyring = settings.signing_keys.policy(settings).keyring
        database = configure_audit(build_sessionmaker(engine), settings.audit, keyring)
        chain_at_commit(database.class_)
        yield database
    finally:
        engine.dispose()


def acting_as(args: argparse.Namespace) -> ActingAs:
    """`--acting-as LOGIN`, or technical support; the use case checks it against the directory."""
    login: str | None = args.acting_as
    return ActingAs(login or None)


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ожидается дата в виде ГГГГ-ММ-ДД, а не «{value}»") from None
