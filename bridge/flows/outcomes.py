"""What a step of a sign-in ceremony tells the route to do next: the flows' one result shape."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.application.flow_steps import Step
from bridge.services.external_identity import ExternalIdentity


@dataclass(frozen=True)
class SignedIn:
    # What the browser's sign-in cookie holds (the session row is keyed by its HMAC).
    cookie_token: str
    remember: bool
    # True unless exactly one role is active: the person chooses one, or learns they have none.
    needs_role_choice: bool
    next_url: str
    # The person confirms their workplace data first (bridge/application/staff_profile.py).
    profile_due: bool = False
    # The relying app's answer, made in the sign-in's own transaction (None: go to next_url).
    answer: object = None


@dataclass(frozen=True)
class GoUpstream:
    """Send the browser to the upstream provider's authorization endpoint."""

    url: str


@dataclass(frozen=True)
class PreparedUpstream:
    """An upstream round trip ready to go: where to send the browser, and the step to park first."""

    url: str
    round_trip: Step


@dataclass(frozen=True)
class NeedsLocalPassword:
    """External identity not bound yet: ask for the issued login and password (external first)."""

    identity: ExternalIdentity


@dataclass(frozen=True)
class NeedsProvider:
    """Local password proved (local first): the person now picks the external provider."""


@dataclass(frozen=True)
class Linked:
    """A signed-in person bound a second provider from their own page."""

    provider: str


@dataclass(frozen=True)
class Refused:
    code: str
    message: str
    # Whether starting the sign-in over can help ("Повторить"); not for a refused password or policy.
    retryable: bool = True


Outcome = SignedIn | GoUpstream | NeedsLocalPassword | NeedsProvider | Linked | Refused
