"""`bridge start`: what a container runs — wait for the database, bring its schema up, serve.

The image's command and docker-compose.yml use it, and tests/test_compose.py runs the same command
outside Docker: a database that is not up yet is waited for, not a crash-and-restart loop.
"""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli import db, serve
from bridge.config import Settings


def register(commands: argparse._SubParsersAction[Any]) -> None:
    start = commands.add_parser(
        "start", help="wait for the database, apply migrations, then serve (containers' entry point)"
    )
    serve.add_server_arguments(start)
    start.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS", help="how long to wait for the database (default 60)"
    )
    start.set_defaults(handler=run_start)


def run_start(args: argparse.Namespace, settings: Settings) -> int:
    print("Ожидание базы данных…", flush=True)
    db.wait_for_database(settings, args.wait)
    db.run_upgrade(args, settings)
    return serve.run_serve(args, settings)
