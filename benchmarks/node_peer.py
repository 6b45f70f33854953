"""The Node peer benchmarks/signin_load.py measures the bridge against: oidc-provider 9 on loopback.

Issue 12 asks for the bridge's signed-in code flow to keep up with a certified Node OpenID Provider
measured in the same run, on the same core. benchmarks/peers/node_op/ holds it (package.json pins
oidc-provider and pg, package-lock.json the rest; server.js is the provider). Its dependencies are
installed there once with `npm ci` and reused while the lock file is unchanged; the server runs
pinned with taskset like `bridge serve` (benchmarks/load_stack.py). It keeps its codes, grants,
tokens and sessions in memory, or, given a PostgreSQL URL, in that database (postgres_adapter.js,
through the npm `pg` package): the second is the like-for-like peer of the bridge, which keeps them
in its database. Without `node` and `npm` the peer is skipped, with the reason. oidc-provider 9
asks for Node 22 LTS; on Node 20 it runs and writes a warning to its log. The run prints the
versions, since the figures belong to them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from mail_sink.smtp import free_port

from benchmarks.load_browser import Person, RelyingApp
from benchmarks.load_stack import APP_REDIRECT, pinned
from benchmarks.peer_server import PeerServer

# How long its start may take before the run gives up on it (with its log).
WAIT_SECONDS = 30

FOLDER = Path(__file__).resolve().parent / "peers" / "node_op"
# The client server.js registers; loopback only.
CLIENT_ID = "bench-node-app"
CLIENT_SECRET = "bench-node-secret-loopback-only"  # noqa: S105 - the peer's fixed benchmark client
SCOPE = "openid profile email"
# Its development login page takes any login and password.
PASSWORD = "any-password"  # noqa: S105


def missing_tools() -> str | None:
    """Why the peer cannot run here, or None when it can."""
    absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(absent)} not found" if absent else None


def installed(folder: Path = FOLDER) -> bool:
    """Whether `npm ci` ran since package-lock.json last changed (npm's own marker is not older)."""
    marker = folder / "node_modules" / ".package-lock.json"
    return marker.exists() and marker.stat().st_mtime >= (folder / "package-lock.json").stat().st_mtime


def install(folder: Path = FOLDER) -> None:
    """`npm ci` once; again only when package-lock.json changed since."""
    if installed(folder):
        return
    npm = shutil.which("npm")
    assert npm is not None
    print(f"Node peer: npm ci in {folder} (once, then while package-lock.json is unchanged)", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True)  # noqa: S603


def describe(folder: Path = FOLDER) -> str:
    """Which provider on which runtime: the figures belong to both."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    node = shutil.which("node")
    assert node is not None
    runtime = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    return f"oidc-provider {lock['packages']['node_modules/oidc-provider']['version']} on Node {runtime}"


def start(log: Path, cores: str | None, folder: Path = FOLDER, *, database_url: str | None = None) -> PeerServer:
    """The peer on a free port, its store in memory or, with `database_url`, in that PostgreSQL database."""
    node = shutil.which("node")
    assert node is not None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = log.open("wb")
    env = dict(os.environ)
    env.pop("NODE_OP_DATABASE_URL", None)
    if database_url:
        env["NODE_OP_DATABASE_URL"] = database_url
    process = subprocess.Popen(  # noqa: S603 - our own server.js with a port chosen here
        pinned([node, "server.js", str(port)], cores), cwd=folder, stdout=output, stderr=output, env=env
    )
    peer = PeerServer("the Node peer", RelyingApp(bridge_url=url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                               redirect_uri=APP_REDIRECT, scope=SCOPE), process, log)
    peer.wait_until_up(f"{url}/.well-known/openid-configuration", WAIT_SECONDS)
    return peer


def people(count: int) -> list[Person]:
    return [Person(f"bench{index}", PASSWORD, f"bench{index}@school.bench") for index in range(count)]
