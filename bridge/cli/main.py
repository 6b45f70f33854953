"""Entry point of the `bridge` command: subcommands register themselves from their modules."""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys
import warnings
from collections.abc import Callable, Sequence

from bridge.cli.output import EXIT_USAGE, emit_error
from bridge.config import Settings, SettingsError
from bridge.observability.logs import LogFormat, logging_config
from bridge.services.errors import DomainError

Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    from bridge.cli import (
        audit,
        clients,
        db,
        logout_deliveries,
        mail,
        orgs,
        purge,
        requests,
        serve,
        staff,
        start,
        support,
    )

    parser = argparse.ArgumentParser(
        prog="bridge", description="Мост идентификации для образовательных систем"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--acting-as",
        metavar="LOGIN",
        help="act as this staff member (the issuing hierarchy applies); default: technical support",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (db, orgs, staff, requests, support, audit, clients, logout_deliveries, mail, purge, serve, start):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Authlib announces its own move to httpx2; people running the CLI cannot act on it.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = Settings.from_environ()
        if settings.log_format is LogFormat.JSON:
            # From here on one JSON object per line, as the server writes them (BRIDGE_LOG_FORMAT).
            logging.config.dictConfig(logging_config(settings.log_format, level="WARNING"))
        return handler(args, settings)
    except SettingsError as error:
        print(f"Ошибка настройки: {error}", file=sys.stderr)
        return EXIT_USAGE
    except DomainError as error:
        return emit_error(args, error)


if __name__ == "__main__":
    sys.exit(main())
