"""`bridge db upgrade`: bring the database schema up to date."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli.output import emit
from bridge.config import Settings
from bridge.storage.database import build_engine
from bridge.storage.migrate import upgrade


def register(commands: argparse._SubParsersAction[Any]) -> None:
    db = commands.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="apply all migrations")
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = build_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    emit(args, {"status": "ok", "database": engine.url.render_as_string()}, "Схема базы данных обновлена.")
    return 0
