"""A relying app's authorization request, parked on the server while the person visits our pages.

When the authorization endpoint must first send the person to sign in, re-authenticate or choose
a role, the request's parameters and the interactions already asked for are parked under a random
tab id (Keycloak's tab id) in this browser's steps; the sign-in pages bring the browser back to
the endpoint with `?tab_id=…`. Nothing of the request rides in a cookie, a tab id is useless in
another browser, and coming back takes the step (parked again only if another page is due).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bridge.application import flow_steps
from bridge.flows.dependencies import SignInDependencies
from bridge.services import flow_state
from bridge.services.flow_state import FlowKind

TAB_PARAMETER = "tab_id"


@dataclass(frozen=True)
class ParkedAuthorization:
    params: list[tuple[str, str]]
    # Interaction kind → when it was asked for (epoch seconds).
    done: dict[str, float]
    # When the parked request dies (epoch seconds): parking it again after a page keeps this end.
    until: float | None = None


def new_tab_id() -> str:
    return secrets.token_urlsafe(32)


def take(dependencies: SignInDependencies, browser_id: str, tab_id: str) -> ParkedAuthorization | None:
    """The parked request, removed (one DELETE … RETURNING): a tab id resumes a request once.

    A request that needs another page is parked again by `keep`, under the same tab id.
    """
    data = flow_steps.take(dependencies.database, browser_id, FlowKind.AUTHORIZATION, key=tab_id)
    return _parked(data)


def take_within(db: Session, browser_id: str, tab_id: str) -> ParkedAuthorization | None:
    """`take` inside the caller's transaction: the upstream callback answering the app itself."""
    return _parked(flow_state.consume(db, browser_id, FlowKind.AUTHORIZATION, key=tab_id))


def keep(dependencies: SignInDependencies, browser_id: str, tab_id: str, parked: ParkedAuthorization) -> None:
    """Park the request while the person is on our pages: a new tab id, or one `take` just emptied.

    Parked again, it keeps the end it had: bouncing through the pages never extends its life.
    """
    step = parking(dependencies, tab_id, parked)
    flow_steps.park(
        dependencies.database, dependencies.purge, browser_id, step.kind, step.data, ttl=step.ttl, key=step.key
    )


def keep_within(
    db: Session, dependencies: SignInDependencies, browser_id: str, tab_id: str, parked: ParkedAuthorization
) -> None:
    """`keep` inside the caller's transaction, under the tab id `take_within` just emptied."""
    step = parking(dependencies, tab_id, parked)
    flow_state.park(db, browser_id, step.kind, step.data, ttl=step.ttl, key=step.key)


def keep_with_round_trip_within(
    db: Session,
    dependencies: SignInDependencies,
    browser_id: str,
    tab_id: str,
    parked: ParkedAuthorization,
    round_trip: flow_steps.Step,
) -> None:
    """Park a new request with the upstream round trip it starts, in the caller's transaction
    (the authorization endpoint's own): one transaction, one redirect straight upstream."""
    flow_steps.park_all_within(db, dependencies.purge, browser_id, [parking(dependencies, tab_id, parked), round_trip])


def parking(dependencies: SignInDependencies, tab_id: str, parked: ParkedAuthorization) -> flow_steps.Step:
    """The step that parks the request under its tab id, with the end it had (or a new one)."""
    ttl = dependencies.rules.step_ttl
    now = time.time()
    until = parked.until if parked.until is not None else now + ttl.total_seconds()
    data = {"params": [list(pair) for pair in parked.params], "done": parked.done, "until": until}
    return flow_steps.Step(FlowKind.AUTHORIZATION, data, timedelta(seconds=max(until - now, 0.0)), tab_id)


def _parked(data: dict[str, Any] | None) -> ParkedAuthorization | None:
    if data is None:
        return None
    params = [(str(name), str(value)) for name, value in data.get("params", [])]
    done = {str(kind): float(at) for kind, at in dict(data.get("done", {})).items()}
    until = data.get("until")
    return ParkedAuthorization(params, done, float(until) if until is not None else None)
