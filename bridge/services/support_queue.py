"""«Обращения в техническую службу»: support's one queue (seed 003).

Two kinds of item: «Не могу войти» from the public form, and a signed-in person's request to
deactivate their own account. The public form is guarded like the registration form: budgets per
address and for everybody together are taken before anything is written, plainly wrong input is
refused before that, and the answer never depends on whether the person exists. Support closes an
item once, with an outcome; which use case did the work is the application layer's business.
A closed item's personal data is blanked by the housekeeping `BRIDGE_REQUEST_RETENTION_DAYS` after it
was closed, like other requests' (bridge/services/request_retention.py); an open item keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.registration_requests import BUDGET_WINDOW, RequestsThrottled, checked_email
from bridge.services.throttle import address_scope, take_from_budget
from bridge.storage.models import SupportRequest
from bridge.storage.types import utcnow

# Budgets per hour of the public form: one address, and everybody together (support reads by hand).
ADDRESS_BUDGET = 3
GLOBAL_BUDGET = 200
MESSAGE_LIMIT = 2000


class SupportRequestKind(StrEnum):
    CANNOT_SIGN_IN = "cannot_sign_in"
    DEACTIVATION = "deactivation"


class SupportOutcome(StrEnum):
    """How support closed an item: the use case it ran, or none."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - an outcome, not a password
    ACTIVATION_RESENT = "activation_resent"
    DEACTIVATED = "deactivated"
    # Answered in the note only: nothing to do, not found, or the person must see their administrator.
    ANSWERED = "answered"


KIND_TITLES = {
    SupportRequestKind.CANNOT_SIGN_IN: "Не могу войти",
    SupportRequestKind.DEACTIVATION: "Отключить мой кабинет",
}
OUTCOME_TITLES = {
    SupportOutcome.PASSWORD_RESET: "Пароль сброшен, привязки удалены: новый пароль выдаст администратор",
    SupportOutcome.ACTIVATION_RESENT: "Выслана новая ссылка для входа",
    SupportOutcome.DEACTIVATED: "Кабинет отключён",
    SupportOutcome.ANSWERED: "Дан ответ",
}


@dataclass(frozen=True)
class CannotSignInForm:
    """What the person typed on «Не могу войти», as plain text."""

    full_name: str
    organization: str
    email: str
    message: str


def _line(value: str, limit: int) -> str | None:
    cleaned = " ".join(value.split())
    return cleaned[:limit] or None


def _text(value: str, limit: int) -> str | None:
    cleaned = value.strip()
    return cleaned[:limit] or None


def file_cannot_sign_in(
    db: Session, form: CannotSignInForm, address: str | None, now: datetime | None = None
) -> SupportRequest:
    """Validate, take from the budgets, file. RequestsThrottled once a budget is spent."""
    now = now or utcnow()
    full_name = _line(form.full_name, 600)
    if full_name is None:
        raise InvalidInput("name_required", "Укажите фамилию, имя и отчество.")
    organization = _line(form.organization, 500)
    if organization is None:
        raise InvalidInput("organization_required", "Укажите организацию, в которой вы работаете.")
    email = checked_email(form.email)
    message = _text(form.message, MESSAGE_LIMIT)
    if message is None:
        raise InvalidInput("message_required", "Опишите, что происходит при входе.")
    for key, budget in (
        (f"support:address:{address_scope(address)}", ADDRESS_BUDGET),
        ("support:all", GLOBAL_BUDGET),
    ):
        if not take_from_budget(db, key, budget, BUDGET_WINDOW, now):
            raise RequestsThrottled()
    item = SupportRequest(
        kind=SupportRequestKind.CANNOT_SIGN_IN.value, full_name=full_name, organization=organization,
        email=email, message=message, created_at=now,
    )
    db.add(item)
    db.flush()
    return item


def file_deactivation_request(
    db: Session, staff_id: int, full_name: str, organization: str | None, email: str | None, reason: str,
    now: datetime | None = None,
) -> tuple[SupportRequest, bool]:
    """The person's own request; the one still open is kept rather than a second filed (False)."""
    waiting = db.scalar(
        select(SupportRequest).where(
            SupportRequest.staff_id == staff_id,
            SupportRequest.kind == SupportRequestKind.DEACTIVATION.value,
            SupportRequest.closed_at.is_(None),
        )
    )
    if waiting is not None:
        return waiting, False
    item = SupportRequest(
        kind=SupportRequestKind.DEACTIVATION.value, staff_id=staff_id, full_name=full_name,
        organization=organization, email=email, message=_text(reason, MESSAGE_LIMIT), created_at=now or utcnow(),
    )
    db.add(item)
    db.flush()
    return item, True


def open_deactivation_request(db: Session, staff_id: int) -> SupportRequest | None:
    return db.scalar(
        select(SupportRequest).where(
            SupportRequest.staff_id == staff_id,
            SupportRequest.kind == SupportRequestKind.DEACTIVATION.value,
            SupportRequest.closed_at.is_(None),
        )
    )


def queue(db: Session, *, include_closed: bool = False) -> list[SupportRequest]:
    """Open items oldest first (with `include_closed`, the closed ones after them, newest first)."""
    query = select(SupportRequest).order_by(
        SupportRequest.closed_at.is_not(None), SupportRequest.created_at, SupportRequest.id
    )
    if not include_closed:
        query = query.where(SupportRequest.closed_at.is_(None))
    return list(db.scalars(query))


def get_item(db: Session, item_id: int, *, lock: bool = False) -> SupportRequest:
    item = db.get(SupportRequest, item_id, with_for_update=lock, populate_existing=lock)
    if item is None:
        raise NotFound("unknown_support_request", f"Обращения №{item_id} нет.", support_request_id=item_id)
    return item


def require_open(item: SupportRequest) -> None:
    if item.closed_at is not None:
        raise Conflict("support_request_closed", f"Обращение №{item.id} уже закрыто.", support_request_id=item.id)


def close_item(
    db: Session, item: SupportRequest, outcome: SupportOutcome, closed_by: str, note: str | None,
    now: datetime | None = None,
) -> SupportRequest:
    """Close an open item, once: one conditional UPDATE, so of two closing it at once one wins
    (a read-then-write would let both see it open, on SQLite as on PostgreSQL)."""
    require_open(item)
    result = db.execute(
        update(SupportRequest)
        .where(SupportRequest.id == item.id, SupportRequest.closed_at.is_(None))
        .values(
            closed_at=now or utcnow(), closed_by=closed_by, outcome=outcome.value,
            outcome_note=_text(note, MESSAGE_LIMIT) if note else None,
        )
        .execution_options(synchronize_session=False)
    )
    db.refresh(item)
    if not int(getattr(result, "rowcount", 0) or 0):
        raise Conflict("support_request_closed", f"Обращение №{item.id} уже закрыто.", support_request_id=item.id)
    return item


def reopen_item(db: Session, item: SupportRequest, closed_by: str) -> None:
    """Withdraw a claim whose use case was refused: the item is open again (only the claimant's)."""
    if item.closed_by == closed_by:
        item.closed_at = item.closed_by = item.outcome = item.outcome_note = None
        db.flush()

