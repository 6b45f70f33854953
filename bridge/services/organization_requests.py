"""«Заявка на включение организации в реестр»: how a person asks for their organization itself.

Seed 003: a school that is not in the registry is first entered «путем отправки заявки». The
public registration form offers this when the search finds nothing; technical support reads the
requests (`bridge org requests`), adds the organization (`bridge org add`) and closes the request.
Like the account requests, it is throttled before anything is written, and a repeated request
gets the same answer as a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.identifiers import normalized_inn
from bridge.services.registration_requests import BUDGET_WINDOW, RequestsThrottled, checked_email
from bridge.services.throttle import address_scope, take_from_budget
from bridge.storage.models import Organization, OrganizationRequest
from bridge.storage.types import utcnow

# Budgets per hour: one address, one ИНН, and everybody together (support reads them by hand).
ADDRESS_BUDGET = 3
INN_BUDGET = 3
GLOBAL_BUDGET = 100


@dataclass(frozen=True)
class OrganizationRequestForm:
    name: str
    inn: str
    contact_email: str


def submit_organization_request(
    db: Session, form: OrganizationRequestForm, address: str | None, now: datetime | None = None
) -> OrganizationRequest | None:
    """File the request; None when one for this ИНН is already open (the same answer to the person)."""
    now = now or utcnow()
    name = " ".join(form.name.split())[:500]
    if not name:
        raise InvalidInput("organization_name_required", "Укажите полное название организации.")
    inn = normalized_inn(form.inn)
    email = checked_email(form.contact_email)
    if db.scalar(select(Organization.id).where(Organization.inn == inn)) is not None:
        # The registry is public on the same page (its search), so this tells nobody anything new.
        raise InvalidInput(
            "organization_in_registry",
            f"Организация с ИНН {inn} уже есть в реестре: найдите её по ИНН и отправьте заявку на подключение.",
        )
    for key, budget in (
        (f"organization_request:address:{address_scope(address)}", ADDRESS_BUDGET),
        (f"organization_request:inn:{inn}", INN_BUDGET),
        ("organization_request:all", GLOBAL_BUDGET),
    ):
        if not take_from_budget(db, key, budget, BUDGET_WINDOW, now):
            raise RequestsThrottled()
    waiting = db.scalar(
        select(OrganizationRequest.id).where(OrganizationRequest.inn == inn, OrganizationRequest.closed_at.is_(None))
    )
    if waiting is not None:
        return None
    request = OrganizationRequest(name=name, inn=inn, contact_email=email, created_at=now)
    db.add(request)
    db.flush()
    return request


def organization_requests(db: Session, *, include_closed: bool = False) -> list[OrganizationRequest]:
    """Open requests oldest first (with `include_closed`, the closed ones after them)."""
    query = select(OrganizationRequest).order_by(
        OrganizationRequest.closed_at.is_not(None), OrganizationRequest.created_at, OrganizationRequest.id
    )
    if not include_closed:
        query = query.where(OrganizationRequest.closed_at.is_(None))
    return list(db.scalars(query))


def close_organization_request(
    db: Session, request_id: int, closed_by: str, note: str | None, now: datetime | None = None
) -> OrganizationRequest:
    """Mark the request dealt with (the organization added, or why not); once."""
    request = db.get(OrganizationRequest, request_id, with_for_update=True, populate_existing=True)
    if request is None:
        raise NotFound("unknown_organization_request", f"Заявки на включение организации №{request_id} нет.")
    if request.closed_at is not None:
        raise Conflict("organization_request_closed", f"Заявка №{request_id} уже закрыта.")
    request.closed_at = now or utcnow()
    request.closed_by = closed_by
    request.closing_note = " ".join(note.split())[:1000] if note and note.strip() else None
    db.flush()
    return request
