"""`bridge serve`: run the bridge with uvicorn."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from bridge.config import Settings


def register(commands: argparse._SubParsersAction[Any]) -> None:
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
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


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.app import create_app

    # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (its default): the app's own
    # TrustedProxyMiddleware decides, from BRIDGE_TRUSTED_PROXIES only (bridge/web/proxies.py).
    # uvicorn's access log writes whole query strings (codes, states, id_token_hint): off.
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, proxy_headers=False,
        access_log=False, log_config=log_config(),
    )
    return 0
