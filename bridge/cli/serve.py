"""`bridge serve`: run the bridge with uvicorn."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bridge.config import Settings
from bridge.observability.logs import LogFormat, logging_config

if TYPE_CHECKING:
    from starlette.applications import Starlette


def register(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser("serve", help="run the web server")
    add_server_arguments(serve)
    serve.set_defaults(handler=run_serve)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Where and how to listen: `bridge serve` and `bridge start` (the containers' command) alike."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (each with its own database pool); default 1"
    )
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")


def log_config(log_format: LogFormat = LogFormat.TEXT) -> dict[str, Any]:
    """uvicorn's logging and the bridge's, the scrubbed access line where uvicorn's own was (stdout),
    every line with its request id, in BRIDGE_LOG_FORMAT."""
    return logging_config(log_format)


def app_from_environ() -> Starlette:
    """The app each worker process builds (uvicorn imports it by name): settings read there again."""
    from bridge.app import create_app

    return create_app(Settings.from_environ(), served=True)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.app import create_app
    from bridge.cli.startup import preflight

    if args.workers < 1:
        print("Ошибка: --workers не может быть меньше 1 (--workers: at least 1)", file=sys.stderr)
        return 2
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("Ошибка: --ssl-certfile и --ssl-keyfile задаются вместе (--ssl-certfile and --ssl-keyfile go together)",
              file=sys.stderr)
        return 2
    preflight(settings, args.host, args.port)
    # Several workers each import the app by name and read the same environment; one builds it here,
    # from the settings already checked.
    app: Starlette | str = create_app(settings, served=True) if args.workers == 1 else f"{__name__}:app_from_environ"
    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (its default): the app's own
    # TrustedProxyMiddleware decides, from BRIDGE_TRUSTED_PROXIES only (bridge/web/proxies.py).
    # uvicorn's access log writes whole query strings (codes, states, id_token_hint): off.
    uvicorn.run(
        app, factory=args.workers > 1, workers=args.workers, host=args.host, port=args.port,
        ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile, proxy_headers=False,
        access_log=False, log_config=log_config(settings.log_format),
    )
    return 0
