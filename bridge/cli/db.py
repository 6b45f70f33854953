"""`bridge db upgrade`: bring the database schema up to date; `bridge db wait`: until it answers."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import ArgumentError, OperationalError

from bridge.cli.output import emit
from bridge.config import Settings, SettingsError
from bridge.services.errors import DomainError
from bridge.storage.database import build_engine
from bridge.storage.migrate import upgrade

WAIT_STEP_SECONDS = 1.0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    db = commands.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="apply all migrations")
    up.set_defaults(handler=run_upgrade)
    wait = actions.add_parser("wait", help="wait until the database accepts connections (containers' start)")
    wait.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="give up after (default 60)")
    wait.set_defaults(handler=run_wait)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    emit(args, {"status": "ok", "database": engine.url.render_as_string()}, "Схема базы данных обновлена.")
    return 0


def wait_for_database(settings: Settings, timeout: float) -> None:
    """Return once `SELECT 1` succeeds; DomainError after `timeout` seconds of refusals."""
    try:
        engine = build_engine(settings.database_url)
    except ArgumentError:
        raise SettingsError(
            "BRIDGE_DATABASE_URL is not a database URL the bridge can use (postgresql://… or sqlite:///…)."
        ) from None
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except OperationalError as error:
                if time.monotonic() >= deadline:
                    raise DomainError(
                        "database_unavailable",
                        f"База данных не ответила за {timeout:g} с ({error.__class__.__name__}). "
                        "Проверьте BRIDGE_DATABASE_URL.",
                    ) from None
                time.sleep(WAIT_STEP_SECONDS)
    finally:
        engine.dispose()


def run_wait(args: argparse.Namespace, settings: Settings) -> int:
    wait_for_database(settings, args.timeout)
    emit(args, {"status": "ok"}, "База данных доступна.")
    return 0
