"""`bridge-demo` (what `./dev demo` runs) is a command of its own; the bridge's CLI has no demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli.main import build_parser
from bridge_demo.cli import parse_args


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
