"""How routes reach the shared runtime and the signed-in person."""

from __future__ import annotations

from starlette.requests import Request

from bridge.config import Settings
from bridge.runtime import BridgeRuntime
from bridge.services.signin_sessions import ActiveSignIn, SessionTimeouts, load_active_signin, record_activity
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
    """The live sign-in session of this browser, or None. Loaded objects are detached.

    The browser at the bridge is activity: it pushes the session's idle timeout back.
    """
    runtime = runtime_of(request)
    session_id = read_signin_session_id(request, runtime.settings)
    if session_id is None:
        return None
    with runtime.db() as db, db.begin():
        active = load_active_signin(db, session_id, timeouts=SessionTimeouts.of(runtime.settings))
        if active is not None:
            record_activity(db, active.session)
            # Touch relationships needed by callers before the session closes.
            _ = active.role.organization if active.role else None
        return active
