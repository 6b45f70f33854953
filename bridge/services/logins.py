"""Logins made from the surname: ICAO Doc 9303 transliteration (as in Russian passports since 2013)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.storage.models import StaffMember

_ICAO = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
}
_MAX_BASE = 80
# Words the administration pages use as paths next to logins (/admin/staff/new).
_RESERVED = frozenset({"new"})


def transliterate(text: str) -> str:
    """Lowercase ASCII: letters by ICAO, digits kept, anything else becomes a hyphen."""
    converted = "".join(_ICAO.get(ch, ch) for ch in text.strip().lower())
    converted = re.sub(r"[^a-z0-9]+", "-", converted).strip("-")
    return converted[:_MAX_BASE].strip("-")


def unique_login(db: Session, surname: str) -> str:
    """The transliterated surname, or with the first free suffix: novyi, novyi_1, novyi_2, ..."""
    base = transliterate(surname) or "user"
    taken = set(db.scalars(select(StaffMember.login).where(StaffMember.login.startswith(base))))
    taken |= _RESERVED
    if base not in taken:
        return base
    number = 1
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"
