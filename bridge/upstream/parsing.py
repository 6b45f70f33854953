"""Reading what upstream providers answer: JSON that may be garbage, fields that may be absent."""

from __future__ import annotations

import hmac
import json
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
