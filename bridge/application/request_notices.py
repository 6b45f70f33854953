"""Letters about a new request, queued in the transaction that files it.

A registration request reaches the administrators who may decide it (bridge/services/
request_recipients.py), an organization request technical support. A letter names the
organization and what was asked, never the applicant's name or address: those are on the
«Заявки» page behind the sign-in, and a mailbox is a weaker place to keep them. Repeated requests
file nothing and mail nobody, and the public form's budgets bound how many letters it can cause.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bridge.mail.templates import mail_templates
from bridge.services.moscow_time import moscow_datetime
from bridge.services.outbox import MailKind, queue_mail
from bridge.services.person_names import given_names
from bridge.services.registration_requests import POSITION_TITLES, RequestedPosition
from bridge.services.request_recipients import request_deciders, support_staff
from bridge.storage.models import OrganizationRequest, RegistrationRequest, StaffMember


def _mailable(people: list[StaffMember]) -> list[tuple[StaffMember, str]]:
    return [(person, person.email) for person in people if person.email]


def new_registration_request(db: Session, request: RegistrationRequest, requests_page: str | None) -> list[str]:
    """Mail each administrator who may decide the request; returns their logins (for the audit record)."""
    values = {
        "organization": request.organization.name,
        "requested": POSITION_TITLES[RequestedPosition(request.requested)].lower(),
        "when": moscow_datetime(request.created_at),
        "link": requests_page,
    }
    recipients = _mailable(request_deciders(db, request))
    for person, address in recipients:
        content = mail_templates().render(MailKind.REQUEST_SUBMITTED, {**values, "name": given_names(person)})
        queue_mail(db, MailKind.REQUEST_SUBMITTED, address, content, staff_id=person.id)
    return [person.login for person, _ in recipients]


def new_organization_request(db: Session, request: OrganizationRequest) -> list[str]:
    """Mail technical support; returns the logins mailed."""
    values = {
        "organization": request.name, "inn": request.inn, "request_id": request.id,
        "when": moscow_datetime(request.created_at),
    }
    recipients = _mailable(support_staff(db))
    for person, address in recipients:
        content = mail_templates().render(
            MailKind.ORGANIZATION_REQUEST_SUBMITTED, {**values, "name": given_names(person)}
        )
        queue_mail(db, MailKind.ORGANIZATION_REQUEST_SUBMITTED, address, content, staff_id=person.id)
    return [person.login for person, _ in recipients]
