"""`bridge serve`: run the bridge with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.config import Settings
from bridge.observability.logs import LogFormat, logging_config


def register(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=run_serve)


def log_config(log_format: LogFormat = LogFormat.TEXT) -> dict[str, Any]:
    """uvicorn's logging and the bridge's, the scrubbed access line where uvicorn's own was (stdout),
    every line with its request id, in BRIDGE_LOG_FORMAT."""
    return logging_config(log_format)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.app import create_app
    from bridge.cli.startup import preflight

    preflight(settings, args.host, args.port)
    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (its default): the app's own
    # TrustedProxyMiddleware decides, from BRIDGE_TRUSTED_PROXIES only (bridge/web/proxies.py).
    # uvicorn's access log writes whole query strings (codes, states, id_token_hint): off.
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, proxy_headers=False,
        access_log=False, log_config=log_config(settings.log_format),
    )
    return 0
