"""Whom an upstream provider vouched for: the value every connector returns.

The connectors know nothing of bindings or staff; the application layer turns this value into
the federation's `ExternalIdentity` (bridge/services/external_identity.py) before any rule runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UpstreamIdentity:
    """What one upstream sign-in established, after every token check passed."""

    provider: str
    issuer: str
    subject: str
    # "esia" or "oidc": the dialect of the connector that vouched.
    provider_kind: str = "oidc"
    surname: str | None = None
    name: str | None = None
    patronymic: str | None = None
    snils: str | None = None  # eleven digits, no separators
    email: str | None = None
    # ESIA: a confirmed ("подтверждённая") account; None when the provider does not say.
    trusted: bool | None = None
    # Authentication methods the provider reported (e.g. ("pwd",)), lower case.
    amr: tuple[str, ...] = ()
    # Organizations the provider says the person acts for (ESIA roles, RSAA company).
    organizations: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    # When the person authenticated at the provider (its `auth_time`, else the id_token's `iat`).
    auth_time: datetime | None = None
    # The id_token's `acr`, and the values the provider's entry accepts (`acr_values`; empty: any).
    acr: str | None = None
    accepted_acr: tuple[str, ...] = ()
    # False when nothing bound the authorization code to the browser that started the flow (an
    # ESIA entry with `id_token_nonce = "not_echoed"`): see ExternalIdentity.code_bound.
    code_bound: bool = True
    # Set when the connector was asked to defer the profile (names, СНИЛС, e-mail, organizations:
    # what binding an account needs, a returning sign-in does not) and fetching it costs a request
    # of its own: awaiting it gives the whole identity, checked as the connector checks it (OIDC's
    # userinfo, its `sub` the id_token's). In memory only; None when the identity is whole.
    complete_profile: Callable[[], Awaitable[UpstreamIdentity]] | None = field(
        default=None, repr=False, compare=False
    )
