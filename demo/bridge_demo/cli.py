"""`bridge-demo` (what `./dev demo` runs): bridge, mock Gosuslugi/РСАА and a demo app on this machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bridge-demo", description="run the bridge, the mock providers and a demo app with demo data"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--bridge-port", type=int, default=8000)
    parser.add_argument("--mock-port", type=int, default=9000)
    parser.add_argument("--app-port", type=int, default=8001)
    parser.add_argument("--mail-port", type=int, default=8025, help="the test mailbox's page")
    parser.add_argument("--smtp-port", type=int, default=1025, help="the test mailbox's SMTP server")
    parser.add_argument("--workdir", type=Path, default=Path("var/demo"), help="where the demo database and keys go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Authlib announces its own move to httpx2 when imported; people trying the demo cannot act on it.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from mail_sink.smtp import smtp_controller

    from bridge_demo.stack import prepare_demo

    stack = prepare_demo(
        args.workdir,
        host=args.host,
        bridge_port=args.bridge_port,
        mock_port=args.mock_port,
        app_port=args.app_port,
        mail_port=args.mail_port,
        smtp_port=args.smtp_port,
    )
    servers = [
        demo_server(app, args.host, port)
        for app, port in (
            (stack.bridge, args.bridge_port),
            (stack.mock, args.mock_port),
            (stack.relying_app, args.app_port),
            (stack.mail_sink, args.mail_port),
        )
    ]
    smtp = smtp_controller(stack.mailbox, args.host, args.smtp_port)
    try:
        smtp.start()
    except (OSError, RuntimeError):
        raise SystemExit(
            f"Не удалось запустить демо: SMTP-порт {args.smtp_port} занят? Укажите другой --smtp-port."
        ) from None

    async def serve_all() -> None:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                raise SystemExit("Не удалось запустить демо: порт занят? Укажите другие --*-port.")
            await asyncio.sleep(0.05)
        print(stack.banner(), flush=True)
        await asyncio.gather(*tasks)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_all())
    finally:
        smtp.stop()
    return 0


def demo_server(app: Any, host: str, port: int) -> uvicorn.Server:
    """One of the demo's servers. No access log: the query strings carry codes, states and
    id_token_hints. proxy_headers=False as in `bridge serve`: uvicorn would otherwise believe
    X-Forwarded-For from 127.0.0.1, and every per-address budget could be dodged by naming
    another address."""
    return uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
        )
    )
