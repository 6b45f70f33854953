"""`bridge demo`: the whole product on this machine — bridge, mock Gosuslugi/РСАА, a demo app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

from bridge.config import Settings


def register(commands: argparse._SubParsersAction[Any]) -> None:
    demo = commands.add_parser("demo", help="run the bridge, the mock providers and a demo app with demo data")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--bridge-port", type=int, default=8000)
    demo.add_argument("--mock-port", type=int, default=9000)
    demo.add_argument("--app-port", type=int, default=8001)
    demo.add_argument("--workdir", type=Path, default=Path("var/demo"), help="where the demo database and keys go")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from bridge.demo.stack import prepare_demo

    stack = prepare_demo(
        args.workdir,
        host=args.host,
        bridge_port=args.bridge_port,
        mock_port=args.mock_port,
        app_port=args.app_port,
    )
    servers = [
        # No access log: the query strings carry codes, states and id_token_hints.
        uvicorn.Server(
            uvicorn.Config(app, host=args.host, port=port, log_level="warning", access_log=False, lifespan="on")
        )
        for app, port in (
            (stack.bridge, args.bridge_port),
            (stack.mock, args.mock_port),
            (stack.relying_app, args.app_port),
        )
    ]

    async def serve_all() -> None:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                raise SystemExit("Не удалось запустить демо: порт занят? Укажите другие --*-port.")
            await asyncio.sleep(0.05)
        print(stack.banner(), flush=True)
        await asyncio.gather(*tasks)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_all())
    return 0
