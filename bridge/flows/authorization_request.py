"""A relying app's authorization request, parked on the server while the person visits our pages.

When /oidc/authorize must first send the person to sign in, re-authenticate or choose a role,
the request's parameters and the interactions already asked for are parked under a random tab
id (Keycloak's tab id) in this browser's steps; the sign-in pages bring the browser back to
`/oidc/authorize?tab_id=…`. Nothing of the request rides in a cookie, a tab id is useless in
another browser, and the step is taken once the app gets its answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bridge.runtime import BridgeRuntime
from bridge.services import flow_state
from bridge.services.flow_state import FlowKind
from bridge.storage.database import transaction

TAB_PARAMETER = "tab_id"


@dataclass(frozen=True)
class ParkedAuthorization:
    params: list[tuple[str, str]]
    # Interaction kind → when it was asked for (epoch seconds).
    done: dict[str, float]


def new_tab_id() -> str:
    return secrets.token_urlsafe(32)


def load(runtime: BridgeRuntime, browser_id: str, tab_id: str) -> ParkedAuthorization | None:
    with runtime.db() as db:
        data = flow_state.peek(db, browser_id, FlowKind.AUTHORIZATION, key=tab_id)
    if data is None:
        return None
    params = [(str(name), str(value)) for name, value in data.get("params", [])]
    done = {str(kind): float(at) for kind, at in dict(data.get("done", {})).items()}
    return ParkedAuthorization(params, done)


def keep(runtime: BridgeRuntime, browser_id: str, tab_id: str, parked: ParkedAuthorization) -> None:
    """Park (or update) the request while the person is on our pages."""
    data = {"params": [list(pair) for pair in parked.params], "done": parked.done}
    with transaction(runtime.db) as db:
        if flow_state.replace_data(db, browser_id, FlowKind.AUTHORIZATION, data, key=tab_id):
            return
        flow_state.park(
            db, browser_id, FlowKind.AUTHORIZATION, data, ttl=runtime.settings.pending_binding_ttl, key=tab_id
        )
        runtime.flow_purge.maybe_purge(db)


def forget(runtime: BridgeRuntime, browser_id: str, tab_id: str) -> None:
    with transaction(runtime.db) as db:
        flow_state.consume(db, browser_id, FlowKind.AUTHORIZATION, key=tab_id)
