"""What the OpenID Provider tells its route: the OP's one result shape for the browser endpoints.

Either a response made by the protocol (a redirect to the app, an error for it) that the route
sends as it is, or a page for the person (Russian, rendered by the route with its templates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response


@dataclass(frozen=True)
class Page:
    """A page for the person instead of a redirect back to the app."""

    template: str
    context: dict[str, Any]
    status_code: int


@dataclass(frozen=True)
class SignInNeeded:
    """The person must sign in (again) before the app gets its answer: what the sign-in passes on.

    With a configured `provider` (the app's idp_hint) the route sends the browser straight to it;
    otherwise to the login page (`Outcome.response`), which offers the providers.
    """

    provider: str | None
    # The app asked for a fresh login (prompt=login) or the session is older than its max_age.
    force_login: bool
    max_age: int | None
    login_hint: str | None
    # The sign-in session a re-authentication ends (one browser, one sign-in session).
    replaces_session: str | None


@dataclass(frozen=True)
class Outcome:
    response: Response | None = None
    page: Page | None = None
    # Authorization: the interactions asked for so far while the request waits for our pages
    # (the route keeps it parked); None once the app has its answer.
    pending: dict[str, float] | None = None
    # Authorization: the pending interaction is a sign-in (the page is `response`'s login page).
    sign_in: SignInNeeded | None = None
    # End session: the person's sign-in session here has ended (the route clears its cookie).
    signed_out: bool = False
