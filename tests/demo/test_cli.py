"""`bridge-demo` (what `./dev demo` runs) is a command of its own; the bridge's CLI has no demo."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.cli.main import build_parser
from bridge_demo.cli import demo_server, parse_args


def test_defaults_are_the_ports_readme_prints() -> None:
    args = parse_args([])
    assert (args.host, args.bridge_port, args.mock_port, args.app_port) == ("127.0.0.1", 8000, 9000, 8001)
    assert args.workdir == Path("var/demo")


def test_the_bridge_command_has_no_demo() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo"])


def test_the_banner_names_the_test_person_of_each_account(tmp_path: Path) -> None:
    from bridge_demo.stack import prepare_demo

    stack = prepare_demo(tmp_path)
    banner = stack.banner()
    head = banner[banner.index("Администратор управления образования"):]
    # Whom to pick at the mock Gosuslugi for the department head's account, as for the director's.
    assert stack.head_person.full_name in head and stack.head_person.email in head
    assert stack.head_person.full_name != stack.person.full_name


def test_the_demo_servers_do_not_believe_x_forwarded_for() -> None:
    """Per-address budgets (the public forms, passwords) must see the real peer, not a header's claim."""
    seen: list[str] = []

    async def peer(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = demo_server(peer, "127.0.0.1", port)
    server.config.lifespan = "off"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9"})
    finally:
        server.should_exit = True
        thread.join(10)
    assert seen == ["127.0.0.1"]
