"""Reading what upstream providers answer: JSON that may be garbage, fields that may be absent."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from bridge.upstream import errors


def json_object(response: httpx.Response, title: str, what: str) -> dict[str, Any]:
    """The response as a JSON object, or the "provider unavailable" error (some answer HTML)."""
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.unavailable(title, f"{what}: not JSON (HTTP {response.status_code})") from None
    if not isinstance(value, dict):
        raise errors.unavailable(title, f"{what}: not a JSON object")
    return value


def same_secret(left: object, right: object) -> bool:
    """Constant-time equality of two strings (state, nonce); anything else is unequal."""
    return isinstance(left, str) and isinstance(right, str) and hmac.compare_digest(left.encode(), right.encode())


def clean_text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def snils_digits(value: object) -> str | None:
    """СНИЛС as eleven digits ("000-000-600 06" → "00000060006"), or None."""
    if not isinstance(value, str):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) == 11 else None


def authorization_code(
    title: str, issuer: str, callback_params: Mapping[str, str], parked: Mapping[str, Any]
) -> str:
    """The code from a provider's redirect back, after the checks every dialect shares.

    The parked flow must be this provider's and its state must come back unchanged; a refusal
    by the person and a provider error become their calm pages.
    """
    if parked.get("issuer") != issuer or not same_secret(callback_params.get("state"), parked.get("state")):
        raise errors.bad_state("state or issuer does not match the parked flow")
    if callback_params.get("iss") and callback_params["iss"] != issuer:
        # RFC 9207: a response from another issuer (mix-up attack).
        raise errors.rejected(title, f"iss parameter {callback_params['iss']!r}")
    if "error" in callback_params:
        description = callback_params.get("error_description", "")
        if callback_params["error"] == "access_denied":
            raise errors.denied(title, description)
        raise errors.unavailable(title, f"authorization error {callback_params['error']}: {description[:120]}")
    code = callback_params.get("code")
    if not code:
        raise errors.rejected(title, "callback without code")
    return code
