"""The demo's technical-support account: its password is printed by the banner and nowhere else —
not in any log record while the demo is seeded and served, not in the stack's repr, not in a row
of the demo database (the audit log, the outbox), and once in the banner."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from mail_sink.smtp import free_ports
from starlette.testclient import TestClient

from bridge_demo.stack import prepare_demo


def _database_text(path: Path) -> str:
    """Every value of every row of the demo database, as text."""
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(
            repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')
        )


def test_the_support_password_is_in_the_banner_once_and_nowhere_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge_port, smtp_port = free_ports(2)
    stack = prepare_demo(tmp_path, bridge_port=bridge_port, smtp_port=smtp_port)
    with TestClient(stack.bridge, base_url=stack.bridge_url) as client:
        assert client.get("/login").status_code == 200
    password = stack.support.password
    assert len(password) >= 8
    assert stack.banner().count(password) == 1
    captured = capsys.readouterr()
    assert password not in caplog.text and password not in captured.out and password not in captured.err
    assert password not in repr(stack)
    assert password not in _database_text(tmp_path / "demo.db")
    assert stack.support.login in stack.banner()
