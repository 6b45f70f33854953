"""People's names: how the directory writes a full name, and how two names are compared.

Compared names ignore case, spacing and the «ё»/«е» difference (documents and registries write
«Семёнов» and «Семенов» for the same person); shown names keep what was typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.storage.search_keys import compared_text

if TYPE_CHECKING:
    from bridge.storage.models import StaffMember


def full_name(surname: str | None, name: str | None, patronymic: str | None) -> str:
    """«Фамилия Имя Отчество», leaving out what is missing."""
    return " ".join(part for part in (surname, name, patronymic) if part)


def comparable(text: str | None) -> str:
    """The form two names are compared in (the one `staff_members.search_name` keeps)."""
    return compared_text(text)


def same_name(left: str | None, right: str | None) -> bool:
    """Both given and the same when compared."""
    return bool(comparable(left)) and comparable(left) == comparable(right)


def given_names(staff: StaffMember) -> str:
    """How a letter addresses the person: «Анна Петровна» (name and patronymic), or the name alone."""
    return " ".join(part for part in (staff.name, staff.patronymic) if part)
