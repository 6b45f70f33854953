"""Reading what upstream providers answer: JSON that may be garbage, fields that may be absent."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from bridge.upstream import errors


def json_object(response: httpx.Response, title: str, what: str) -> dict[str, Any]:
    """The response as a JSON object, or the "provider unavailable" error (some answer HTML)."""
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack (`[[[[…`), malformed all the same.
        raise errors.unavailable(title, f"{what}: not JSON (HTTP {response.status_code})") from None
    if not isinstance(value, dict):
        raise errors.unavailable(title, f"{what}: not a JSON object")
    return value


def same_secret(left: object, right: object) -> bool:
    """Constant-time equality of two strings (state, nonce); anything else is unequal."""
    return isinstance(left, str) and isinstance(right, str) and hmac.compare_digest(left.encode(), right.encode())


def clean_text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def refuse_nul(title: str, what: str, *answers: object) -> None:
    """Refuse an answer with a NUL byte in any string, keys and nested values included.

    PostgreSQL stores no NUL in text: a name, e-mail or `sub` holding one would fail the query that
    binds or looks it up (a 500), so the whole answer is malformed. The detail names no value.
    """
    pending = list(answers)
    while pending:  # a loop, not recursion: a deeply nested answer cannot exhaust the stack
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise errors.rejected(title, f"{what}: a string holds a NUL byte")
        elif isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)


def snils_digits(value: object) -> str | None:
    """СНИЛС as eleven digits ("000-000-600 06" → "00000060006"), or None."""
    if not isinstance(value, str):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) == 11 else None


# Clock difference allowed between a provider and us (whole-second `auth_time`, unsynchronised clocks).
CLOCK_LEEWAY_SECONDS = 60


def authorization_code(
    title: str,
    issuer: str,
    callback_params: Mapping[str, str],
    parked: Mapping[str, Any],
    *,
    require_iss: bool = False,
) -> str:
    """The code from a provider's redirect back, after the checks every dialect shares.

    The parked flow must be this provider's and its state must come back unchanged; `iss`
    (RFC 9207) must be the provider's whenever it is sent, and must be sent when the provider
    announces it (`require_iss`). A refusal by the person and a provider error become their calm pages.
    """
    if parked.get("issuer") != issuer or not same_secret(callback_params.get("state"), parked.get("state")):
        raise errors.bad_state("state or issuer does not match the parked flow")
    if "iss" in callback_params and callback_params["iss"] != issuer:
        # RFC 9207: a response from another issuer (mix-up attack).
        raise errors.rejected(title, f"iss parameter {callback_params['iss'][:120]!r}")
    if require_iss and "iss" not in callback_params:
        raise errors.rejected(title, "authorization response without the iss its provider announces")
    if "error" in callback_params:
        description = callback_params.get("error_description", "")
        if callback_params["error"] == "access_denied":
            raise errors.denied(title, description)
        raise errors.unavailable(title, f"authorization error {callback_params['error']}: {description[:120]}")
    code = callback_params.get("code")
    if not code:
        raise errors.rejected(title, "callback without code")
    return code


def authentication_time(
    title: str, claims: Mapping[str, Any], parked: Mapping[str, Any], now: float
) -> datetime | None:
    """When the person authenticated at the provider, checked against what we asked for.

    The id_token's `auth_time`; without it `iat` (the provider authenticated no later than it
    issued the token), or None. When the flow asked for a fresh login (`force_login`, a relying
    app's prompt=login) or a `max_age`, `auth_time` itself is required and must satisfy the
    request: a provider that answered from an older session gets the "login required" page.
    """
    auth_time = _epoch_seconds(claims.get("auth_time"))
    if "auth_time" in claims and auth_time is None:
        raise errors.rejected(title, "id_token auth_time is not a number")
    if auth_time is not None and auth_time > now + CLOCK_LEEWAY_SECONDS:
        raise errors.rejected(title, "id_token auth_time is in the future")
    force_login = parked.get("force_login") is True
    max_age = parked.get("max_age")
    if force_login or max_age is not None:
        if auth_time is None:
            raise errors.rejected(title, "id_token without auth_time although a fresh login or max_age was asked")
        started_at = _epoch_seconds(parked.get("started_at"))
        if force_login and (started_at is None or auth_time < started_at - CLOCK_LEEWAY_SECONDS):
            raise errors.login_required(title, "auth_time precedes the forced login")
        if isinstance(max_age, int) and now - auth_time > max_age + CLOCK_LEEWAY_SECONDS:
            raise errors.login_required(title, f"auth_time older than max_age {max_age}")
    moment = auth_time if auth_time is not None else _epoch_seconds(claims.get("iat"))
    # Never later than now: a provider's clock running ahead must not make a session look fresher.
    return datetime.fromtimestamp(min(moment, now), UTC) if moment is not None else None


def _epoch_seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)
