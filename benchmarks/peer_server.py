"""A peer server the benchmark measures the bridge against (benchmarks/node_peer.py, benchmarks/satosa_peer.py):
started pinned like `bridge serve`, stopped at the end, waited for until it answers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.load_browser import RelyingApp


def answers(url: str, running: Callable[[], bool], timeout: float, pause: float = 0.2) -> bool:
    """Whether `url` answers 200 within `timeout` seconds, asked every `pause` while `running()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(pause)
    return False


@dataclass
class PeerServer:
    """What the peer serves (the app registered there), its process and its log."""

    name: str
    app: RelyingApp
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def server_pid(self) -> int:
        """The process started; /proc CPU of it counts its children too (gunicorn's worker, say)."""
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def wait_until_up(self, url: str, timeout: float) -> None:
        """Until `url` answers; a peer that exits or stays silent is stopped, with its log's end."""
        if not answers(url, lambda: self.process.poll() is None, timeout):
            self.stop()
            raise RuntimeError(f"{self.name} did not come up:\n{self.log.read_text(errors='replace')[-2000:]}")
