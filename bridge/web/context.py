"""How routes reach the shared runtime and the signed-in person."""

from __future__ import annotations

from starlette.requests import Request

from bridge.application import signin
from bridge.blocking import run_blocking
from bridge.config import Settings
from bridge.runtime import BridgeRuntime
from bridge.services.signin_sessions import ActiveSignIn, SessionTimeouts
from bridge.web.signin_cookie import read_signin_session_id


def runtime_of(request: Request) -> BridgeRuntime:
    runtime: BridgeRuntime = request.app.state.runtime
    return runtime


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_signin(request: Request) -> ActiveSignIn | None:
    """The live sign-in session named by this browser's cookie, or None (see application.signin).

    A database transaction: call it in a worker thread (`signed_in`, or inside a use case that is),
    never on the event loop, where every other request would wait for it (tests/web/test_off_event_loop.py).
    """
    runtime = runtime_of(request)
    session_id = read_signin_session_id(request, runtime.settings)
    if session_id is None:
        return None
    return signin.current_signin(runtime.db, session_id, SessionTimeouts.of(runtime.settings))


async def signed_in(request: Request) -> ActiveSignIn | None:
    """`current_signin`, read in a worker thread."""
    return await run_blocking(current_signin, request)
