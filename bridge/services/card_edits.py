"""«Изменить данные»: ФИО (or «без отчества»), e-mail, phone and note of a staff card, old → new.

The change rewrites who the account belongs to, so it needs authority over every role the person
holds now, as a reset does. What changed is audited with its old and new values; those values are
personal data, so they go beside the audit record (`audit.record(personal=...)`), erasable with
the rest of the person's data, and the record itself names only the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.contacts import normalized_email, normalized_phone
from bridge.services.errors import InvalidInput
from bridge.services.staff import checked_names, get_wholly_managed_staff, require_not_deactivated
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow

NOTE_MAX_LENGTH = 2000

# The fields an edit may change, in the order a page or the audit lists them.
EDITABLE_FIELDS = ("surname", "name", "patronymic", "no_patronymic", "email", "phone", "note")


@dataclass(frozen=True)
class CardEdit:
    """What the administrator changes. None keeps the card's value (the CLI names only what changes);
    an empty string clears an optional field (the page sends every field as it was left)."""

    surname: str | None = None
    name: str | None = None
    patronymic: str | None = None
    # None: «без отчества» follows the patronymic (typing one unsets it), else stays as it was.
    no_patronymic: bool | None = None
    email: str | None = None
    phone: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CardEdited:
    staff: StaffMember
    # The fields that changed; empty when the form was saved as it was (nothing is audited then).
    changed: tuple[str, ...]


def edit_card(db: Session, actor: Actor, login: str, edit: CardEdit, now: datetime | None = None) -> CardEdited:
    now = now or utcnow()
    staff = get_wholly_managed_staff(db, actor, login, now)
    require_not_deactivated(staff)
    no_patronymic = edit.no_patronymic
    if no_patronymic is None:
        no_patronymic = staff.no_patronymic if edit.patronymic is None else False
    patronymic = edit.patronymic
    if patronymic is None:
        patronymic = None if no_patronymic else staff.patronymic
    surname, name, patronymic = checked_names(
        staff.surname if edit.surname is None else edit.surname,
        staff.name if edit.name is None else edit.name,
        patronymic, no_patronymic,
    )
    note = staff.note if edit.note is None else (" ".join(edit.note.split()) or None)
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput("note_too_long", f"Примечание длиннее {NOTE_MAX_LENGTH} знаков: сократите его.")
    wanted: dict[str, Any] = {
        "surname": surname, "name": name, "patronymic": patronymic, "no_patronymic": no_patronymic,
        "email": staff.email if edit.email is None else normalized_email(edit.email),
        "phone": staff.phone if edit.phone is None else normalized_phone(edit.phone),
        "note": note,
    }
    changes = {
        field: {"old": getattr(staff, field), "new": wanted[field]}
        for field in EDITABLE_FIELDS
        if getattr(staff, field) != wanted[field]
    }
    if not changes:
        return CardEdited(staff=staff, changed=())
    for field, change in changes.items():
        setattr(staff, field, change["new"])
    db.flush()
    changed = tuple(changes)
    record(
        db, actor.audit_context, "staff.edited", "success", subject_staff_id=staff.id, login=staff.login,
        changed=list(changed), personal=changes,
    )
    return CardEdited(staff=staff, changed=changed)
