"""Requests to add an organization to the registry, as technical support deals with them.

Filed on the public registration form (`application.registration.submit_organization_request`);
support lists them (`bridge org requests`), adds the organization (`bridge org add`) and closes
the request with a note. Support only: no role in the hierarchy adds organizations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support
from bridge.application.unit_of_work import unit_of_work
from bridge.services import organization_requests
from bridge.services.audit import record
from bridge.storage.models import OrganizationRequest

SUPPORT_ONLY = (
    "Заявки на включение организаций в реестр разбирает техническая поддержка: выполните команду без --acting-as."
)


@dataclass(frozen=True)
class OrganizationRequestView:
    id: int
    name: str
    inn: str
    contact_email: str
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    closing_note: str | None


def _view(request: OrganizationRequest) -> OrganizationRequestView:
    return OrganizationRequestView(
        id=request.id, name=request.name, inn=request.inn, contact_email=request.contact_email,
        created_at=request.created_at, closed_at=request.closed_at, closed_by=request.closed_by,
        closing_note=request.closing_note,
    )


def list_organization_requests(
    database: sessionmaker[Session], principal: Principal, *, include_closed: bool = False
) -> tuple[OrganizationRequestView, ...]:
    require_cli_support(principal, SUPPORT_ONLY)
    with database() as db:
        found = organization_requests.organization_requests(db, include_closed=include_closed)
        return tuple(_view(request) for request in found)


def close_organization_request(
    database: sessionmaker[Session], principal: Principal, request_id: int, note: str | None
) -> OrganizationRequestView:
    """Mark the request dealt with, with what was done (the organization's number, or why not)."""
    context = audit_context_of(principal)
    with unit_of_work(database, context, "organization_request.close", organization_request_id=request_id) as db:
        require_cli_support(principal, SUPPORT_ONLY)
        closed = organization_requests.close_organization_request(db, request_id, context.actor, note)
        record(db, context, "organization_request.closed", "success", organization_request_id=closed.id)
        return _view(closed)
