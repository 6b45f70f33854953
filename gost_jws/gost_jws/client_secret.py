"""ESIA's ``client_secret``: base64url (no padding) of a signature over the concatenated parameters.

v2/ac: ``client_id + scope + scope_org + timestamp + state + redirect_uri``; v3/te appends the code.
The parts are joined with no separator and encoded as UTF-8.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta, timezone

from .keys import Signer, Verifier

MOSCOW = timezone(timedelta(hours=3))
TIMESTAMP_FORMAT = "%Y.%m.%d %H:%M:%S %z"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raises ValueError on anything else."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def client_secret(signer: Signer, *parts: str) -> str:
    return b64url_encode(signer.sign("".join(parts).encode("utf-8")))


def verify_client_secret(verifier: Verifier, secret: str, *parts: str) -> bool:
    try:
        signature = b64url_decode(secret)
    except ValueError:
        return False
    return verifier.verify("".join(parts).encode("utf-8"), signature)


def esia_timestamp(moment: datetime | None = None) -> str:
    """ESIA's ``timestamp``: ``YYYY.MM.DD HH:MM:SS +0300`` (Moscow time by default)."""
    return (moment or datetime.now(MOSCOW)).astimezone(MOSCOW).strftime(TIMESTAMP_FORMAT)


def parse_esia_timestamp(text: str) -> datetime:
    """The inverse of ``esia_timestamp``; any UTC offset is accepted. Raises ValueError."""
    if len(text) != len("2024.01.31 12:00:00 +0300"):
        raise ValueError("timestamp must look like 'YYYY.MM.DD HH:MM:SS +0300'")
    return datetime.strptime(text, TIMESTAMP_FORMAT)
