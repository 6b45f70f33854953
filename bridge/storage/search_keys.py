"""The compared form of a person's name, kept in `staff_members.search_name`.

Names compare without case, spacing or the «ё»/«е» difference (`services/person_names.py` says
why). The form is computed here, below the services, because the model keeps the column in step
on every insert and update of a name (the listener in `bridge/storage/models.py`); SQLite's
`lower()` knows no Cyrillic, so the database could not compute it for us on both engines.
"""

from __future__ import annotations


def compared_text(text: str | None) -> str:
    """Case folded, «ё» as «е», runs of spaces as one."""
    return " ".join((text or "").split()).casefold().replace("ё", "е")


def search_name_of(surname: str | None, name: str | None, patronymic: str | None) -> str:
    return compared_text(" ".join(part for part in (surname, name, patronymic) if part))
