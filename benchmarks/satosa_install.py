"""The SATOSA peer's own virtualenv (benchmarks/peers/satosa/.venv), installed from its hashed
requirements once and again only when requirements.txt changes: what benchmarks/satosa_peer.py
runs, and what .ci/run installs before the tests (`python3 -m benchmarks.satosa_install`), so that
the peer's live test runs in CI. The standard library only: CI runs it before the project's own
virtualenv exists.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "peers" / "satosa"
MARKER = "installed-from.sha256"


def python_of(folder: Path = FOLDER) -> Path:
    return folder / ".venv" / "bin" / "python"


def _requirements_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "requirements.txt").read_bytes()).hexdigest()


def installed(folder: Path = FOLDER) -> bool:
    """Whether the virtualenv was installed from the requirements.txt there now (its digest, kept beside it)."""
    marker = folder / ".venv" / MARKER
    return python_of(folder).exists() and marker.exists() and marker.read_text().strip() == _requirements_digest(folder)


def install(folder: Path = FOLDER) -> None:
    """A virtualenv with exactly requirements.txt (hashes checked), once; again only when it changed.

    pip's output goes to .venv/install.log; a failure raises CalledProcessError naming it.
    """
    if installed(folder):
        return
    print(f"SATOSA peer: pip install into {folder / '.venv'} (once, then while requirements.txt is unchanged)",
          flush=True)
    venv.create(folder / ".venv", clear=True, with_pip=True)
    log = folder / ".venv" / "install.log"
    with log.open("wb") as output:
        subprocess.run(  # noqa: S603 - the virtualenv's own pip, our own requirements file
            [str(python_of(folder)), "-m", "pip", "install", "--require-hashes", "--no-deps",
             "--disable-pip-version-check", "-r", str(folder / "requirements.txt")],
            stdout=output, stderr=output, check=True,
        )
    (folder / ".venv" / MARKER).write_text(_requirements_digest(folder) + "\n")


if __name__ == "__main__":
    try:
        install()
    except (OSError, subprocess.CalledProcessError) as error:
        # No index to install from: the peer's live test is skipped, with its reason.
        print(f"the SATOSA peer could not be installed ({error}): its live test is skipped", file=sys.stderr)
