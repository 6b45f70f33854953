"""The Node peer of benchmarks/signin_load.py: its setup, its skip, and the scripted browser on its pages.

No timings here: the benchmark prints figures, these check that it can produce them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from benchmarks import node_peer
from benchmarks.load_browser import Person, _answer, sign_in
from benchmarks.signin_load import Plan, arguments, measure_node_peer, recreate_database

ROOT = Path(__file__).resolve().parents[2]

# The forms of oidc-provider's development interaction pages (lib/views/login.js, interaction.js).
NODE_LOGIN = """<form autocomplete="off" action="/interaction/abc" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
  <input required type="password" name="password" placeholder="and password">
  <button type="submit" class="login login-submit">Sign-in</button></form>"""
NODE_CONSENT = """<form autocomplete="off" action="/interaction/abc" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button autofocus type="submit" class="login login-submit">Continue</button></form>"""


def page(html: str) -> httpx.Response:
    return httpx.Response(200, text=html, request=httpx.Request("GET", "http://127.0.0.1:1/interaction/abc"))


def test_quick_keeps_the_node_peer_and_no_node_skips_it() -> None:
    quick = arguments(["--quick"])
    assert (quick.seconds, quick.runs, quick.people, quick.no_node) == (6.0, 1, 24, False)
    assert arguments(["--no-node"]).no_node is True


def test_fewer_people_than_concurrency_is_refused() -> None:
    with pytest.raises(SystemExit):
        arguments(["--people", "4", "--concurrency", "8"])


def test_without_node_the_peer_is_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    plan = Plan(seconds=1, runs=1, concurrency=1, first_measured=1)
    assert measure_node_peer(tmp_path, plan, browsers=1, cores=None) == []
    assert capsys.readouterr().out == "Node peer skipped: node and npm not found\n"


def test_oidc_provider_is_pinned_to_9_and_its_modules_stay_out_of_git() -> None:
    package = json.loads((node_peer.FOLDER / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((node_peer.FOLDER / "package-lock.json").read_text(encoding="utf-8"))
    pinned = package["dependencies"]["oidc-provider"]
    assert pinned.startswith("9.")
    assert lock["packages"]["node_modules/oidc-provider"]["version"] == pinned
    assert "node_modules/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_server_js_is_valid_javascript() -> None:
    node = shutil.which("node")
    assert node is not None
    subprocess.run([node, "--check", str(node_peer.FOLDER / "server.js")], check=True)


def test_the_scripted_browser_answers_the_node_login_and_consent_pages() -> None:
    person = Person("bench0", node_peer.PASSWORD, "bench0@school.bench")
    form, login = _answer(page(NODE_LOGIN), person)
    assert form.method == "post"
    assert login == {"prompt": "login", "login": "bench0", "password": node_peer.PASSWORD}
    assert _answer(page(NODE_CONSENT), person)[1] == {"prompt": "consent"}


@pytest.mark.skipif(
    shutil.which("node") is None or not node_peer.installed(),
    reason="the Node peer is not installed for this lock file (signin_load.py runs npm ci there)",
)
@pytest.mark.parametrize("store", ["memory", "postgresql"])
def test_signed_in_at_the_node_peer_the_code_flow_meets_no_page(tmp_path: Path, store: str) -> None:
    """What the peer's window measures: after one sign-in with pages, authorize → token → userinfo
    only; in memory and with its models in PostgreSQL (the like-for-like peer)."""
    database_url = None
    if store == "postgresql":
        database_url = "postgresql://postgres@127.0.0.1:5432/bench_test_node"
        recreate_database(database_url)
    peer = node_peer.start(tmp_path / "node-op.log", cores=None, database_url=database_url)
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async def twice() -> None:
        async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as browser:
            person = node_peer.people(1)[0]
            await sign_in(browser, peer.app, person, provider=None)
            assert any(path.startswith("/interaction/") for path in paths)
            paths.clear()
            await sign_in(browser, peer.app, person, provider=None)

    try:
        asyncio.run(twice())
    finally:
        peer.stop()
    assert paths == ["/oidc/authorize", "/oidc/token", "/oidc/userinfo"]
    if database_url:
        # The store really is the database: the codes it issued are there, consumed.
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as connection:
            codes = connection.execute(text(
                "SELECT count(*), count(consumed_at) FROM oidc_models WHERE type = 'AuthorizationCode'"
            )).one()
        engine.dispose()
        assert codes[0] == codes[1] and codes[0] >= 2
