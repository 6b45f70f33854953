"""How a person is reached: an e-mail address and a phone number, checked and written one way."""

from __future__ import annotations

from bridge.services import phones
from bridge.services.errors import InvalidInput

# The column's width, and RFC 5321's limit of a forward path.
EMAIL_MAX_LENGTH = 320


def normalized_email(value: str | None) -> str | None:
    """The address as typed (spacing trimmed), or None when empty; InvalidInput when it cannot be one."""
    email = " ".join(value.split()) if value else ""
    if not email:
        return None
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or "@" in domain or len(email) > EMAIL_MAX_LENGTH:
        raise InvalidInput("invalid_email", f"Адрес электронной почты «{email}» указан неверно.")
    return email


def normalized_phone(value: str | None) -> str | None:
    """The E.164 form of a typed number (bridge/services/phones.py), or None when empty."""
    typed = " ".join(value.split()) if value else ""
    return phones.normalized_phone(typed) if typed else None


def formatted_phone(phone: str | None) -> str | None:
    """How people read a stored number (bridge/services/phones.py)."""
    return phones.formatted_phone(phone) if phone else phone
