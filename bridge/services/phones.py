"""Work phone numbers: what a person types, the E.164 form we keep, the form people read.

Kept as E.164 (`+74951234567`) with an extension in RFC 3966's form (`;ext=123`), which is also
what OpenID Connect's `phone_number` claim asks for. Russian numbers may be typed the usual ways
(«8 (495) 123-45-67», «+7 495 1234567», «4951234567»); a foreign one starts with «+».
"""

from __future__ import annotations

import re

from bridge.services.errors import InvalidInput

_EXTENSION = re.compile(r"\s*(?:,\s*)?(?:доб\.?|доп\.?|ext\.?|x)\s*(\d{1,6})\s*$", re.IGNORECASE)
_ALLOWED = re.compile(r"^\+?[\d\s()\-.]+$")

INVALID_PHONE = (
    "Телефон указан неверно. Пример: +7 495 123-45-67 или 8 (495) 123-45-67, доб. 123 "
    "(номер другой страны — с «+» и кодом страны)."
)


def normalized_phone(value: str) -> str:
    """The E.164 form of a typed number (with `;ext=N`), or InvalidInput with a Russian message."""
    text = " ".join(value.split())
    extension = ""
    found = _EXTENSION.search(text)
    if found:
        extension = f";ext={found.group(1)}"
        text = text[: found.start()].strip()
    if not text or not _ALLOWED.match(text):
        raise InvalidInput("invalid_phone", INVALID_PHONE)
    digits = "".join(char for char in text if char.isdigit())
    if text.startswith("+"):
        if not 8 <= len(digits) <= 15:
            raise InvalidInput("invalid_phone", INVALID_PHONE)
        return f"+{digits}{extension}"
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10:
        raise InvalidInput("invalid_phone", INVALID_PHONE)
    return f"+7{digits}{extension}"


def formatted_phone(phone: str | None) -> str:
    """«+7 495 123-45-67, доб. 123» for a Russian number; other numbers as kept."""
    if not phone:
        return ""
    number, _, extension = phone.partition(";ext=")
    shown = number
    if number.startswith("+7") and len(number) == 12 and number[1:].isdigit():
        local = number[2:]
        shown = f"+7 {local[:3]} {local[3:6]}-{local[6:8]}-{local[8:]}"
    return f"{shown}, доб. {extension}" if extension else shown
