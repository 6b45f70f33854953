"""The personal data of old requests: blanked once the request is long decided or closed.

A registration request holds the applicant's ФИО, position and e-mail, and the administrator's
reason for a decision (free text, which may name people); a request to add an organization holds
a name typed by the public (free text) and a contact e-mail; a request to technical support
(«Не могу войти», a deactivation request) holds a ФИО, an organization, an e-mail, what the person
wrote and support's answer. Once decided or closed, the bridge
needs them only while someone may still ask about the decision: `request_retention`
(`BRIDGE_REQUEST_RETENTION_DAYS`, 90 days) after it they are blanked in housekeeping. The rows
stay, with their organization, status, dates, ИНН and who decided, for the audit trail and the
counts. A pending request is never touched, whatever its age: it waits for its decision.

Each batch is one `UPDATE … WHERE id IN (SELECT … LIMIT n)`; a blanked row no longer qualifies, so
a pass repeated, or two workers at once, blank nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from bridge.services.registration_requests import RequestStatus
from bridge.storage.models import OrganizationRequest, RegistrationRequest, SupportRequest

# The names a purge report gives them (rows changed, not deleted).
REGISTRATION_REQUESTS = "registration_requests.personal_data"
ORGANIZATION_REQUESTS = "organization_requests.personal_data"
SUPPORT_REQUESTS = "support_requests.personal_data"


def _registration_due(retention: timedelta, now: datetime) -> ColumnElement[bool]:
    return and_(
        RegistrationRequest.status != RequestStatus.PENDING.value,
        RegistrationRequest.decided_at <= now - retention,
        or_(RegistrationRequest.email != "", RegistrationRequest.surname != "",
            RegistrationRequest.decision_reason.is_not(None)),
    )


def _organization_due(retention: timedelta, now: datetime) -> ColumnElement[bool]:
    return and_(
        OrganizationRequest.closed_at <= now - retention,
        or_(OrganizationRequest.contact_email != "", OrganizationRequest.name != "",
            OrganizationRequest.closing_note.is_not(None)),
    )


def _support_due(retention: timedelta, now: datetime) -> ColumnElement[bool]:
    return and_(
        SupportRequest.closed_at <= now - retention,
        or_(SupportRequest.full_name != "", SupportRequest.email.is_not(None), SupportRequest.message.is_not(None),
            SupportRequest.organization.is_not(None), SupportRequest.outcome_note.is_not(None)),
    )


def blank_old_requests(db: Session, retention: timedelta, now: datetime, *, limit: int) -> dict[str, int]:
    """Blank up to `limit` requests of each kind; the number blanked, by report name."""
    registration = select(RegistrationRequest.id).where(_registration_due(retention, now)).limit(limit)
    organization = select(OrganizationRequest.id).where(_organization_due(retention, now)).limit(limit)
    blanked_registration = db.execute(
        update(RegistrationRequest)
        .where(RegistrationRequest.id.in_(registration), _registration_due(retention, now))
        .values(surname="", name="", patronymic=None, position="", email="", decision_reason=None)
        .execution_options(synchronize_session=False)
    )
    blanked_organization = db.execute(
        update(OrganizationRequest)
        .where(OrganizationRequest.id.in_(organization), _organization_due(retention, now))
        .values(name="", contact_email="", closing_note=None)
        .execution_options(synchronize_session=False)
    )
    support = select(SupportRequest.id).where(_support_due(retention, now)).limit(limit)
    blanked_support = db.execute(
        update(SupportRequest)
        .where(SupportRequest.id.in_(support), _support_due(retention, now))
        .values(full_name="", organization=None, email=None, message=None, outcome_note=None)
        .execution_options(synchronize_session=False)
    )
    return {
        REGISTRATION_REQUESTS: int(getattr(blanked_registration, "rowcount", 0) or 0),
        ORGANIZATION_REQUESTS: int(getattr(blanked_organization, "rowcount", 0) or 0),
        SUPPORT_REQUESTS: int(getattr(blanked_support, "rowcount", 0) or 0),
    }


def count_old_requests(db: Session, retention: timedelta, now: datetime) -> dict[str, int]:
    """What `blank_old_requests` would blank now, changing nothing."""
    registration = select(func.count()).select_from(RegistrationRequest).where(_registration_due(retention, now))
    organization = select(func.count()).select_from(OrganizationRequest).where(_organization_due(retention, now))
    support = select(func.count()).select_from(SupportRequest).where(_support_due(retention, now))
    return {
        REGISTRATION_REQUESTS: int(db.scalar(registration) or 0),
        ORGANIZATION_REQUESTS: int(db.scalar(organization) or 0),
        SUPPORT_REQUESTS: int(db.scalar(support) or 0),
    }
