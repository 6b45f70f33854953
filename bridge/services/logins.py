"""Logins made from the surname: ICAO Doc 9303 transliteration (as in Russian passports since 2013)."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select
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
    """The transliterated surname, or with a suffix: novyi, novyi_1, novyi_2, ...

    In about constant time however many people share the surname (issue 12: registering one person
    once loaded every login starting with it): the suffix tried first is the count of suffixed logins
    (one index range counted in the database, no rows fetched), then the next ones by the unique index.
    A gap left by a purged person is not filled again, so a login is not handed to someone else."""
    base = transliterate(surname) or "user"
    if base not in _RESERVED and not _taken(db, base):
        return base
    suffixed = f"{base}_"
    # The range lets the login index answer (LIKE alone scans the table on SQLite); LIKE keeps the
    # count exact under any collation. A low count only means more probes below, never a duplicate.
    number = 1 + (db.scalar(
        select(func.count()).select_from(StaffMember).where(
            StaffMember.login >= suffixed, StaffMember.login < f"{base}`",
            StaffMember.login.startswith(suffixed, autoescape=True),
        )
    ) or 0)
    while _taken(db, f"{base}_{number}"):
        number += 1
    return f"{base}_{number}"


def _taken(db: Session, login: str) -> bool:
    return db.scalar(select(StaffMember.id).where(StaffMember.login == login)) is not None


def unique_logins(db: Session, surnames: list[str]) -> list[str]:
    """`unique_login` for many people at once (a bulk import), in order: the taken logins read for
    two hundred surnames a query, and each login given out here counted as taken for the next.
    Two imports racing each other still cannot share one: the unique index refuses the second."""
    bases = [transliterate(surname) or "user" for surname in surnames]
    distinct = sorted(set(bases))
    taken = set(_RESERVED)
    for start in range(0, len(distinct), 200):
        chunk = distinct[start:start + 200]
        prefixes = or_(*(StaffMember.login.startswith(base) for base in chunk))
        taken.update(db.scalars(select(StaffMember.login).where(prefixes)))
    # Where the search for a base's next free suffix resumes: a file of 5,000 «Иванов» stays linear.
    searched_up_to: dict[str, int] = {}
    logins = []
    for base in bases:
        login = _first_free(base, taken, searched_up_to.get(base, 1))
        if login != base:
            searched_up_to[base] = int(login.rsplit("_", 1)[1]) + 1
        taken.add(login)
        logins.append(login)
    return logins


def _first_free(base: str, taken: set[str], number: int = 1) -> str:
    if base not in taken:
        return base
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"
