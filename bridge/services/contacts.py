"""How a person is reached: an e-mail address and a phone number, checked and written one way."""

from __future__ import annotations

import re

from bridge.services.errors import InvalidInput

# The column's width, and RFC 5321's limit of a forward path.
EMAIL_MAX_LENGTH = 320
# What may separate the digits of a typed phone number: «+7 (495) 276-04-20», «8 916 123 45 67».
_PHONE_SEPARATORS = re.compile(r"[\s()\-.]")


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
    """A Russian number as «+7XXXXXXXXXX» (typed with +7, 7 or 8 and any spacing), or None when empty."""
    typed = " ".join(value.split()) if value else ""
    if not typed:
        return None
    digits = _PHONE_SEPARATORS.sub("", typed)
    if digits.startswith("+7"):
        digits = digits[2:]
    elif len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or not digits.isdigit():
        raise InvalidInput(
            "invalid_phone", f"Телефон «{typed}» указан неверно: нужен номер из десяти цифр после +7 или 8."
        )
    return f"+7{digits}"


def formatted_phone(phone: str | None) -> str | None:
    """«+7 (495) 276-04-20» for a stored «+74952760420»."""
    if not phone or len(phone) != 12 or not phone.startswith("+7"):
        return phone
    digits = phone[2:]
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
