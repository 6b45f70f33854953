"""`bridge serve`: run the bridge with uvicorn."""

from __future__ import annotations

import argparse
import copy
import sys
from typing import TYPE_CHECKING, Any

from bridge.config import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette


def register(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (each with its own database pool); default 1"
    )
    serve.add_argument("--ssl-certfile", help="serve HTTPS with this certificate chain (PEM)")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    serve.set_defaults(handler=run_serve)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with the bridge's scrubbed access line where uvicorn's own was (stdout)."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["bridge_access"] = {
        "formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stdout",
    }
    config["loggers"]["bridge.access"] = {"handlers": ["bridge_access"], "level": "INFO", "propagate": False}
    return config


def app_from_environ() -> Starlette:
    """The app each worker process builds (uvicorn imports it by name): settings read there again."""
    from bridge.app import create_app

    return create_app(Settings.from_environ())


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.app import create_app

    if args.workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        print("--ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    # Several workers each import the app by name and read the same environment; one builds it here,
    # from the settings already checked.
    app: Starlette | str = create_app(settings) if args.workers == 1 else f"{__name__}:app_from_environ"
    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (its default): the app's own
    # TrustedProxyMiddleware decides, from BRIDGE_TRUSTED_PROXIES only (bridge/web/proxies.py).
    # uvicorn's access log writes whole query strings (codes, states, id_token_hint): off.
    uvicorn.run(
        app, factory=args.workers > 1, workers=args.workers, host=args.host, port=args.port,
        ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile, proxy_headers=False,
        access_log=False, log_config=log_config(),
    )
    return 0
