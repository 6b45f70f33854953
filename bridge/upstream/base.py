"""What every upstream connector offers the sign-in flow, whatever its dialect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bridge.upstream.identity import UpstreamIdentity


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the browser, and what the flow parks on the server until it returns."""

    url: str
    parked: dict[str, Any]


class UpstreamError(Exception):
    """An upstream failure shown to the person as a calm page; nothing is written."""

    def __init__(self, code: str, message: str, *, retryable: bool = True, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        # Technical detail for the logs and the audit record; never shown, never a secret.
        self.detail = detail


class UpstreamProvider(Protocol):
    key: str
    title: str
    kind: str
    issuer: str

    async def start_authorization(
        self,
        http: httpx.AsyncClient,
        redirect_uri: str,
        *,
        force_login: bool = False,
        max_age: int | None = None,
    ) -> AuthorizationStart:
        """Build the authorization redirect with fresh state, nonce and PKCE as the dialect allows.

        `force_login` (a relying app's prompt=login) and `max_age` are forwarded where the dialect
        has them, and the id_token's `auth_time` is checked against them in any case.
        """
        ...

    async def finish_authorization(
        self,
        http: httpx.AsyncClient,
        callback_params: Mapping[str, str],
        parked: Mapping[str, Any],
        redirect_uri: str,
        *,
        defer_profile: bool = False,
    ) -> UpstreamIdentity:
        """Check the callback against the parked state, redeem the code, verify every token.

        Raises UpstreamError on any failure: the person refused, the provider is down, slow or
        answered garbage, a token failed a check. With `defer_profile` a dialect whose profile
        costs a request of its own may leave it out: the identity's `complete_profile` fetches it.
        """
        ...
