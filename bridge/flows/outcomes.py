"""What a step of the sign-in flow tells the route to show next."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.services.external_identity import ExternalIdentity


@dataclass(frozen=True)
class SignedIn:
    signin_session_id: str
    remember: bool
    # True unless exactly one role is active: the person chooses one, or learns they have none.
    needs_role_choice: bool
    next_url: str


@dataclass(frozen=True)
class NeedsLocalPassword:
    """External identity not bound yet: ask for the issued login and password (external first)."""

    identity: ExternalIdentity


@dataclass(frozen=True)
class NeedsProvider:
    """Local password proved (local first): the person now picks the external provider."""


@dataclass(frozen=True)
class Refused:
    code: str
    message: str
    # Where "Повторить" leads; None when retrying cannot help.
    retry_url: str | None = "/login"


Outcome = SignedIn | NeedsLocalPassword | NeedsProvider | Refused
