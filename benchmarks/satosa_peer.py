"""The Python broker benchmarks/signin_load.py measures the bridge's returning brokered sign-in against.

Issue 12 sets the target «returning brokered sign-in more than 4× the Python broker»: SATOSA 8 as
an OIDC → OIDC proxy, measured in the same run on the same core. benchmarks/peers/satosa/ holds it:
requirements.in names SATOSA and gunicorn (the WSGI server SATOSA's documentation runs it under),
requirements.txt pins them and everything they need with hashes; proxy_conf.yaml, the two plugin
files and internal_attributes.yaml are its configuration. It is installed there once, into its own
virtualenv (.venv, not in git, like node_modules), and reused while requirements.txt is unchanged.

It runs as SATOSA documents: `gunicorn satosa.wsgi:app`, here one sync worker (one process, one
request at a time), pinned with taskset like `bridge serve`. Facing the app, its OpenIDConnectFrontend
(pyop) with one static client; facing the provider, its OpenIDConnectBackend (pyoidc) with a client
at the same mock РСАА the bridge brokers to (`bench-satosa`, the demo secret, registered with the
mock's own --clients option: the mock refuses a second `bridge-demo` and calls back only to
registered addresses). Its keys, the state cookie's key and the app's client secret are made at
start into the run's temporary folder. Its codes and tokens stay in memory (SATOSA's default, no
db_uri) and its only state between requests is its encrypted cookie.

Two liberties, both in SATOSA's favour or neutral: its issuer is https://… while it serves plain
HTTP on loopback, as behind a TLS-terminating proxy (pyoidc refuses an http issuer; the bridge also
serves plain HTTP here); and gunicorn's sync worker closes the connection after each answer (no
keep-alive), which is how SATOSA is deployed behind a reverse proxy.

signin_load.py runs it twice: as installed, and with glibc's malloc keeping freed memory
(KEEP_FREED_MEMORY below), which takes most of its CPU per flow away.

Without a virtualenv-capable Python or without the network to install it, the peer is skipped
with one line. The run prints the versions, since the figures belong to them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks.load_browser import RelyingApp
from benchmarks.load_stack import APP_REDIRECT, pinned
from benchmarks.peer_server import PeerServer

# install and installed are the peer's too (signin_load.py and its test call them here).
from benchmarks.satosa_install import FOLDER, python_of
from benchmarks.satosa_install import install as install
from benchmarks.satosa_install import installed as installed

# How long its start may take before the run gives up on it (with its log).
WAIT_SECONDS = 60

# The plugins' names in plugins/*.yaml: SATOSA routes by them.
FRONTEND = "oidc"
BACKEND = "rsaa"
# SATOSA's frontend with one backend: authorization at /<backend>/<frontend>/authorization.
AUTHORIZE_PATH = f"/{BACKEND}/{FRONTEND}/authorization"
TOKEN_PATH = f"/{FRONTEND}/token"
USERINFO_PATH = f"/{FRONTEND}/userinfo"
# The backend's redirect_uri at the provider (SATOSA routes its path to the backend).
CALLBACK_PATH = f"/{BACKEND}/callback"
APP_CLIENT_ID = "bench-satosa-app"
# Its client at the mock РСАА (the mock's clients file, mock_clients below).
UPSTREAM_CLIENT_ID = "bench-satosa"
SCOPE = "openid profile email"
# Most of SATOSA's CPU per flow as installed is its state cookie: each write builds two
# lzma.LZMACompressor (satosa.state.State.urlstate), whose large buffers glibc's malloc hands back
# to the kernel when freed and faults in again on the next write. Told to keep them (these glibc
# tunables, read at the process's start), SATOSA spends about a third of the CPU per flow; the run
# measures both, so the ratio is read knowing what it rests on.
KEEP_FREED_MEMORY = {"MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MALLOC_MMAP_THRESHOLD_": str(1 << 30)}


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def mock_clients(port: int) -> dict[str, list[dict[str, object]]]:
    """SATOSA's client at the mock РСАА (idp-mock --clients): the demo secret, its own callback."""
    from idp_mock.config import DEMO_RSAA_SECRET

    return {"rsaa": [{"client_id": UPSTREAM_CLIENT_ID, "client_secret": DEMO_RSAA_SECRET,
                      "redirect_uris": [url_of(port) + CALLBACK_PATH],
                      "token_endpoint_auth_method": "client_secret_basic"}]}


def describe(folder: Path = FOLDER) -> str:
    """SATOSA's version and what it runs on: the figures belong to them."""
    code = ("import importlib.metadata as m, sys; "
            "print(' '.join([m.version('SATOSA'), m.version('pyop'), m.version('oic'), m.version('gunicorn'), "
            "sys.version.split()[0]]))")
    versions = subprocess.run([str(python_of(folder)), "-c", code],  # noqa: S603
                              capture_output=True, text=True, check=True).stdout.split()
    satosa, pyop, oic, gunicorn, python = versions
    return f"SATOSA {satosa} (pyop {pyop}, oic {oic}) under gunicorn {gunicorn}, 1 sync worker, on Python {python}"


def environment(folder: Path, port: int, upstream_issuer: str, app_secret: str) -> dict[str, str]:
    """What proxy_conf.yaml and the plugin files read with !ENV; keys and client files written to `folder`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_key = folder / "satosa-signing.pem"
    signing_key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ))
    signing_key.chmod(0o600)
    clients = folder / "satosa-clients.json"
    clients.write_text(json.dumps({APP_CLIENT_ID: {
        "client_secret": app_secret, "redirect_uris": [APP_REDIRECT], "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }}), encoding="utf-8")
    clients.chmod(0o600)
    upstream = mock_clients(port)["rsaa"][0]
    return {
        "SATOSA_CONFIG": "proxy_conf.yaml",
        "SATOSA_STATE_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        # https: pyoidc refuses an http issuer; served plain on loopback, as behind a TLS proxy.
        "SATOSA_PEER_BASE": f"https://127.0.0.1:{port}",
        "SATOSA_PEER_UPSTREAM_ISSUER": upstream_issuer,
        "SATOSA_PEER_UPSTREAM_CLIENT_ID": UPSTREAM_CLIENT_ID,
        "SATOSA_PEER_UPSTREAM_CLIENT_SECRET": str(upstream["client_secret"]),
        "SATOSA_PEER_CALLBACK": url_of(port) + CALLBACK_PATH,
        "SATOSA_PEER_SIGNING_KEY": str(signing_key),
        "SATOSA_PEER_CLIENTS": str(clients),
    }


def start(log: Path, port: int, upstream_issuer: str, cores: str | None, folder: Path = FOLDER, *,
          keep_freed_memory: bool = False) -> PeerServer:
    """SATOSA under gunicorn on `port` (registered at the mock beforehand: mock_clients), brokering to
    `upstream_issuer`; with `keep_freed_memory`, glibc's malloc told to keep what is freed (KEEP_FREED_MEMORY)."""
    app_secret = secrets.token_urlsafe(24)
    env = {**os.environ, **environment(log.parent, port, upstream_issuer, app_secret),
           **(KEEP_FREED_MEMORY if keep_freed_memory else {})}
    gunicorn = python_of(folder).parent / "gunicorn"
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
               "--no-control-socket", "satosa.wsgi:app"]
    output = log.open("wb")
    # The plugin paths in proxy_conf.yaml are relative to the folder.
    process = subprocess.Popen(pinned(command, cores), cwd=folder, stdout=output, stderr=output, env=env)  # noqa: S603
    url = url_of(port)
    peer = PeerServer("SATOSA", RelyingApp(bridge_url=url, client_id=APP_CLIENT_ID, client_secret=app_secret,
                                 redirect_uri=APP_REDIRECT, scope=SCOPE, authorize_path=AUTHORIZE_PATH,
                                 token_path=TOKEN_PATH, userinfo_path=USERINFO_PATH), process, log)
    peer.wait_until_up(f"{url}/.well-known/openid-configuration", WAIT_SECONDS)
    return peer
