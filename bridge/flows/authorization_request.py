"""A relying app's authorization request, parked on the server while the person visits our pages.

When the authorization endpoint must first send the person to sign in, re-authenticate or choose
a role, the request's parameters and the interactions already asked for are parked under a random
tab id (Keycloak's tab id) in this browser's steps; the sign-in pages bring the browser back to
the endpoint with `?tab_id=…`. Nothing of the request rides in a cookie, a tab id is useless in
another browser, and the step is taken once the app gets its answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bridge.application import flow_steps
from bridge.flows.dependencies import SignInDependencies
from bridge.services.flow_state import FlowKind

TAB_PARAMETER = "tab_id"


@dataclass(frozen=True)
class ParkedAuthorization:
    params: list[tuple[str, str]]
    # Interaction kind → when it was asked for (epoch seconds).
    done: dict[str, float]


def new_tab_id() -> str:
    return secrets.token_urlsafe(32)


def load(dependencies: SignInDependencies, browser_id: str, tab_id: str) -> ParkedAuthorization | None:
    data = flow_steps.peek(dependencies.database, browser_id, FlowKind.AUTHORIZATION, key=tab_id)
    if data is None:
        return None
    params = [(str(name), str(value)) for name, value in data.get("params", [])]
    done = {str(kind): float(at) for kind, at in dict(data.get("done", {})).items()}
    return ParkedAuthorization(params, done)


def keep(dependencies: SignInDependencies, browser_id: str, tab_id: str, parked: ParkedAuthorization) -> None:
    """Park (or update) the request while the person is on our pages."""
    data = {"params": [list(pair) for pair in parked.params], "done": parked.done}
    flow_steps.keep(
        dependencies.database, dependencies.purge, browser_id, FlowKind.AUTHORIZATION, data,
        ttl=dependencies.rules.step_ttl, key=tab_id,
    )


def forget(dependencies: SignInDependencies, browser_id: str, tab_id: str) -> None:
    flow_steps.take(dependencies.database, browser_id, FlowKind.AUTHORIZATION, key=tab_id)
