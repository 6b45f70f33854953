"""`bridge serve` refuses a start that cannot work in one line naming what to fix: no traceback.

Run as an operator runs it: a subprocess, its stderr read whole.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def serve(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli.main", "serve", "--port", "1", *argv], capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}, **env}, cwd=cwd, timeout=120,
    )


def refusal(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Ошибка")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BRIDGE_PROVIDERS_FILE": "/nonexistent/providers.toml"}, "BRIDGE_PROVIDERS_FILE"),
        ({"BRIDGE_DATABASE_URL": "mysql+nothing://x"}, "BRIDGE_DATABASE_URL"),
        ({"BRIDGE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "BRIDGE_DATABASE_URL"),
        ({"BRIDGE_LOG_FORMAT": "xml"}, "BRIDGE_LOG_FORMAT"),
        ({"BRIDGE_METRICS_NETWORKS": "everyone"}, "BRIDGE_METRICS_NETWORKS"),
        ({"BRIDGE_METRICS_TOKEN": "short"}, "BRIDGE_METRICS_TOKEN"),
        ({"BRIDGE_ENV": "production"}, "BRIDGE_SECRET_KEY"),
        ({"BRIDGE_UPSTREAM_TIMEOUT_SECONDS": "ten"}, "BRIDGE_UPSTREAM_TIMEOUT_SECONDS"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(env: dict[str, str], named: str, tmp_path: Path) -> None:
    line = refusal(serve(env, cwd=tmp_path))
    assert named in line


def test_a_database_without_the_schema_says_what_to_run(tmp_path: Path) -> None:
    line = refusal(serve({"BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}, cwd=tmp_path))
    assert "bridge db upgrade" in line


def test_a_busy_port_is_one_line(database_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve({"BRIDGE_DATABASE_URL": database_url}, "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path)
    line = refusal(done)
    assert f"Порт {port}" in line and "занят" in line
