"""A relying app's back-channel logout endpoint, served by uvicorn on loopback, for tests.

It keeps every logout token it is POSTed, answers with whatever status the test sets, and can
hold a request until the test releases it (an app that hangs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/backchannel-logout"


@dataclass
class LogoutReceiver:
    url: str = ""
    tokens: list[str] = field(default_factory=list)
    # Every POST seen, answered or not (a held one is counted before it waits).
    arrived: int = 0
    status: int = 200
    hold: threading.Event | None = None

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            self.arrived += 1
            if self.hold is not None:
                await anyio.to_thread.run_sync(self.hold.wait, 20)
            form = await request.form()
            token = form.get("logout_token")
            if self.status < 300 and isinstance(token, str):
                self.tokens.append(token)
            return Response(status_code=self.status, headers={"Cache-Control": "no-store"})

        return Starlette(routes=[Route(PATH, receive, methods=["POST"])])

    def wait_for(self, count: int, seconds: float = 20.0) -> list[str]:
        """Wait until `count` tokens have been accepted (not a timing assertion: a bounded wait)."""
        deadline = time.monotonic() + seconds
        while len(self.tokens) < count:
            assert time.monotonic() < deadline, f"{len(self.tokens)} logout tokens arrived, expected {count}"
            time.sleep(0.02)
        return list(self.tokens)


@contextmanager
def served_receiver() -> Iterator[LogoutReceiver]:
    receiver = LogoutReceiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                       timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}{PATH}"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.should_exit = True
        thread.join(timeout=10)
