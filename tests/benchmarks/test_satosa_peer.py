"""The SATOSA peer of benchmarks/signin_load.py: its pins, its configuration, its skip, and a live flow.

No timings here: the benchmark prints figures, these check that it can produce them.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from mail_sink.smtp import free_ports

from benchmarks import satosa_peer
from benchmarks.load_browser import Person, forget_bridge, sign_in
from benchmarks.load_stack import BIN, Stack
from benchmarks.peer_server import PeerServer, answers
from benchmarks.signin_load import (
    SATOSA_KEEPING_MEMORY,
    SATOSA_RETURNING,
    Plan,
    Window,
    _satosa_ratio,
    arguments,
    measure_satosa_peer,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILES = sorted([*satosa_peer.FOLDER.glob("*.yaml"), *satosa_peer.FOLDER.glob("plugins/*.yaml")])


def test_quick_keeps_the_satosa_peer_and_no_satosa_skips_it() -> None:
    assert arguments(["--quick"]).no_satosa is False
    assert arguments(["--no-satosa"]).no_satosa is True


def test_satosa_is_pinned_to_8_with_hashes_and_its_virtualenv_stays_out_of_git() -> None:
    requirements = (satosa_peer.FOLDER / "requirements.txt").read_text(encoding="utf-8")
    pins = re.findall(r"^([a-z0-9-]+)==(\S+) \\$", requirements, flags=re.MULTILINE)
    assert dict(pins)["satosa"].startswith("8.")
    assert "gunicorn" in dict(pins)
    # Every requirement carries its hashes (pip install --require-hashes refuses otherwise).
    assert requirements.count("==") == len(pins) and requirements.count("--hash=sha256:") >= len(pins)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(satosa_peer.FOLDER / ".venv" / "bin" / "python")],
                             cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_every_value_the_configuration_reads_from_the_environment_is_given(tmp_path: Path) -> None:
    # !ENV values outside comments.
    read = re.compile(r"^[^#\n]*!ENV (\w+)", flags=re.MULTILINE)
    wanted = {name for path in CONFIG_FILES for name in read.findall(path.read_text(encoding="utf-8"))}
    given = satosa_peer.environment(tmp_path, 8123, "http://localhost:1/rsaa", "app-secret")
    assert wanted and wanted <= set(given)
    assert given["SATOSA_STATE_ENCRYPTION_KEY"]  # SATOSA reads it from SATOSA_<key>, not !ENV
    clients = json.loads(Path(given["SATOSA_PEER_CLIENTS"]).read_text(encoding="utf-8"))
    assert clients[satosa_peer.APP_CLIENT_ID]["client_secret"] == "app-secret"
    # Keys and secrets are made per run, readable by their owner only.
    assert Path(given["SATOSA_PEER_SIGNING_KEY"]).stat().st_mode & 0o077 == 0


def test_the_app_and_the_mock_meet_the_paths_the_plugins_declare() -> None:
    frontend = (satosa_peer.FOLDER / "plugins" / "oidc_frontend.yaml").read_text(encoding="utf-8")
    backend = (satosa_peer.FOLDER / "plugins" / "oidc_backend.yaml").read_text(encoding="utf-8")
    assert re.search(rf"^name: {satosa_peer.FRONTEND}$", frontend, flags=re.MULTILINE)
    assert re.search(rf"^name: {satosa_peer.BACKEND}$", backend, flags=re.MULTILINE)
    registered = satosa_peer.mock_clients(8123)["rsaa"][0]
    assert registered["redirect_uris"] == ["http://127.0.0.1:8123" + satosa_peer.CALLBACK_PATH]
    assert registered["client_id"] != "bridge-demo"  # the mock refuses a second client of that id


def test_without_the_network_the_peer_is_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline() -> None:
        raise subprocess.CalledProcessError(1, ["pip", "install"])

    monkeypatch.setattr(satosa_peer, "install", offline)
    stack = Stack(tmp_path, "http://127.0.0.1:1", "http://localhost:2", "sqlite://", None, [])  # type: ignore[arg-type]
    plan = Plan(seconds=1, runs=1, concurrency=1, first_measured=1)
    assert measure_satosa_peer(tmp_path, stack, 8123, plan, cores=None) == []
    output = capsys.readouterr().out
    assert output.startswith("SATOSA peer skipped: could not install ") and output.count("\n") == 1


@pytest.mark.skipif(not satosa_peer.installed(),
                    reason="the SATOSA peer is not installed for this requirements.txt (signin_load.py installs it)")
def test_returning_through_satosa_meets_no_page(tmp_path: Path) -> None:
    """What the peer's window measures: after one sign-in through the mock's pages, a browser without
    SATOSA's cookies goes app → SATOSA → РСАА (signed in) → SATOSA → token → userinfo, no page."""
    satosa_port, mock_port = free_ports(2)
    clients = tmp_path / "mock-clients.json"
    clients.write_text(json.dumps(satosa_peer.mock_clients(satosa_port)), encoding="utf-8")
    mock_url = f"http://localhost:{mock_port}"
    mock = subprocess.Popen(
        [str(BIN / "idp-mock"), "--host", "127.0.0.1", "--port", str(mock_port), "--public-url", mock_url,
         "--clients", str(clients)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async def twice(peer: PeerServer, person: Person) -> None:
        async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as browser:
            await sign_in(browser, peer.app, person, provider=None)
            assert "/rsaa/login" in paths
            paths.clear()
            forget_bridge(browser, "127.0.0.1")
            await sign_in(browser, peer.app, person, provider=None)

    try:
        _wait_until_up(f"{mock_url}/rsaa/.well-known/openid-configuration")
        email = httpx.get(f"{mock_url}/_mock/persons").json()["persons"][0]["email"]
        peer = satosa_peer.start(tmp_path / "satosa.log", satosa_port, f"{mock_url}/rsaa", cores=None)
        try:
            asyncio.run(twice(peer, Person("someone", "unused", email)))
        finally:
            peer.stop()
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    assert paths == [satosa_peer.AUTHORIZE_PATH, "/rsaa/authorize", satosa_peer.CALLBACK_PATH,
                     satosa_peer.TOKEN_PATH, satosa_peer.USERINFO_PATH]


def _wait_until_up(url: str) -> None:
    assert answers(url, lambda: True, timeout=30), f"{url} did not come up"


def test_the_report_prints_bridge_over_satosa_as_installed_and_with_malloc_keeping_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def window(name: str, flows: int, cpu: float) -> Window:
        return Window(name, seconds=10.0, cpu=cpu, latencies=[0.1] * flows)

    _satosa_ratio([window("returning brokered (16 people)", 500, 5.0),  # 100/s/core
                   window(f"{SATOSA_RETURNING} (16 people)", 50, 2.5),  # 20/s/core
                   window(f"{SATOSA_KEEPING_MEMORY} (16 people)", 100, 2.5)])  # 40/s/core
    assert capsys.readouterr().out.splitlines() == [
        "returning brokered, bridge ÷ SATOSA per core: 5.00× (target > 4×): 100.0 ÷ 20.0 /s/core; "
        "server CPU per flow 10.00 ms ÷ 50.00 ms",
        "returning brokered, bridge ÷ SATOSA with malloc keeping freed memory per core: 2.50×: 100.0 ÷ 40.0 /s/core; "
        "server CPU per flow 10.00 ms ÷ 25.00 ms",
    ]
