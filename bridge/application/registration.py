"""«Заявка на подключение»: a person asks, an administrator decides, an activation link is mailed.

The public side (`/register`) searches the registry, files a request or a request to add the
organization itself, and answers the same whatever was filed: nothing on it tells whether an
e-mail or a person exists. The administrators' side (`/admin/requests`, `bridge requests …`) lists
the requests the actor may decide (the issuing hierarchy), approves one with a concrete role —
which creates the person with no password and mails a single-use activation link — or rejects it
with a reason, and sends a new link when one was lost. Each decision is one unit of work: the
person, the role, the link, the request's status, the audit records and the mail commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import request_notices
from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.mail.templates import mail_templates
from bridge.observability.metrics import count_throttle_hit
from bridge.services import organization_requests, request_decisions
from bridge.services.actors import Actor
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext, record, record_independently
from bridge.services.errors import DomainError
from bridge.services.hierarchy import authorize_issue
from bridge.services.moscow_time import moscow_datetime
from bridge.services.organization_requests import OrganizationRequestForm
from bridge.services.organizations import search_registry
from bridge.services.outbox import MailKind, queue_mail
from bridge.services.person_names import full_name, given_names
from bridge.services.registration_requests import (
    POSITION_TITLES,
    RequestedPosition,
    RequestForm,
    RequestsThrottled,
    candidate_roles,
    pending_requests,
    submit_request,
)
from bridge.services.roles import ORGANIZATION_KIND_TITLES, Role, role_title
from bridge.storage.database import transaction
from bridge.storage.enums import OrganizationKind, RegistryStatus
from bridge.storage.models import Organization, RegistrationRequest

__all__ = [
    "ActivationLinks", "ActivationResent", "AwaitingActivation", "OrganizationRequestForm", "RegistryOrganization",
    "RequestApproved", "RequestForm", "RequestRejected", "RequestView", "approve_request", "find_organizations",
    "list_awaiting_activation", "list_pending_requests", "registry_organization", "reject_request",
    "resend_activation", "submit_organization_request", "submit_registration_request",
]

# A search shorter than this lists nothing: it would list half the registry.
SEARCH_MIN_LENGTH = 3


@dataclass(frozen=True)
class ActivationLinks:
    """Where a mailed activation link points: the public address of the activation page."""

    page_url: str

    def link(self, token: str) -> str:
        return f"{self.page_url}?{urlencode({'token': token})}"


@dataclass(frozen=True)
class RegistryOrganization:
    id: int
    name: str
    inn: str | None
    district: str | None
    kind_title: str


@dataclass(frozen=True)
class RequestView:
    id: int
    full_name: str
    no_patronymic: bool
    organization_id: int
    organization_name: str
    position: str
    email: str
    requested: RequestedPosition
    created_at: datetime
    # The roles this actor may approve the request with: (role, title).
    roles: tuple[tuple[Role, str], ...]
    # Someone of the organization with the same full name whose card the actor may open.
    namesake_login: str | None

    @property
    def requested_title(self) -> str:
        return POSITION_TITLES[self.requested]


@dataclass(frozen=True)
class RequestApproved:
    request_id: int
    login: str
    full_name: str
    email: str
    role_title: str
    organization_name: str
    # None when the person was bound already: no link was needed.
    link_expires_at: datetime | None


@dataclass(frozen=True)
class RequestRejected:
    request_id: int
    full_name: str
    email: str


@dataclass(frozen=True)
class ActivationResent:
    login: str
    full_name: str
    email: str
    expires_at: datetime


@dataclass(frozen=True)
class AwaitingActivation:
    request_id: int
    login: str
    full_name: str
    email: str
    organization_name: str
    approved_at: datetime | None


# --- the public side -------------------------------------------------------------------------


def _registry_view(organization: Organization) -> RegistryOrganization:
    return RegistryOrganization(
        id=organization.id, name=organization.name, inn=organization.inn, district=organization.district,
        kind_title=ORGANIZATION_KIND_TITLES[OrganizationKind(organization.kind)],
    )


def find_organizations(database: sessionmaker[Session], query: str) -> tuple[RegistryOrganization, ...]:
    """The registry's organizations matching a name or an ИНН (public: the registry is no secret)."""
    if len(query.strip()) < SEARCH_MIN_LENGTH:
        return ()
    with database() as db:
        return tuple(_registry_view(organization) for organization in search_registry(db, query))


def registry_organization(database: sessionmaker[Session], organization_id: int) -> RegistryOrganization | None:
    """One organization a request can be filed in, or None (unknown, excluded, technical support)."""
    with database() as db:
        organization = db.get(Organization, organization_id)
        if (
            organization is None
            or organization.registry_status != RegistryStatus.ACTIVE
            or organization.kind == OrganizationKind.SUPPORT
        ):
            return None
        return _registry_view(organization)


def submit_registration_request(
    database: sessionmaker[Session], address: str | None, form: RequestForm, *, requests_page: str | None = None
) -> None:
    """«Отправить заявку». Returns nothing: a new, a repeated and any other request read the same.

    A new request is mailed to the administrators who may decide it (`requests_page`: the public
    address of «Заявки», for the letter), in the same transaction.

    Plainly wrong input is refused (InvalidInput, NotFound for an organization out of the registry)
    before any budget is spent and is not audited; a spent budget is refused and audited. The audit
    record of a request carries no personal data: the organization, the position asked, its number.
    """
    context = AuditContext(ANONYMOUS_ACTOR, address)
    try:
        with transaction(database) as db:
            filed = submit_request(db, form, address)
            mailed = request_notices.new_registration_request(db, filed, requests_page) if filed else []
            record(
                db, context, "request.submitted", "success", organization_id=form.organization_id,
                requested=form.requested, request_id=filed.id if filed is not None else None,
                repeated=filed is None, mailed=mailed,
            )
    except RequestsThrottled as refusal:
        count_throttle_hit("registration_request")
        record_independently(
            database, context, "request.throttled", "refused", organization_id=form.organization_id,
            form="registration", reason=refusal.code,
        )
        raise


def submit_organization_request(
    database: sessionmaker[Session], address: str | None, form: OrganizationRequestForm
) -> None:
    """«Заявка на включение организации в реестр», for technical support; the same answer whatever was filed."""
    context = AuditContext(ANONYMOUS_ACTOR, address)
    try:
        with transaction(database) as db:
            filed = organization_requests.submit_organization_request(db, form, address)
            mailed = request_notices.new_organization_request(db, filed) if filed is not None else []
            record(
                db, context, "organization_request.submitted", "success",
                organization_request_id=filed.id if filed is not None else None, repeated=filed is None,
                mailed=mailed,
            )
    except RequestsThrottled as refusal:
        count_throttle_hit("organization_request")
        record_independently(
            database, context, "request.throttled", "refused", form="organization", reason=refusal.code
        )
        raise


# --- the administrators' side ----------------------------------------------------------------


def _approvable_roles(db: Session, actor: Actor, request: RegistrationRequest) -> tuple[tuple[Role, str], ...]:
    organization = request.organization
    allowed = []
    for role in candidate_roles(organization, RequestedPosition(request.requested)):
        try:
            authorize_issue(db, actor, role, organization)
        except DomainError:
            continue
        allowed.append((role, role_title(role)))
    return tuple(allowed)


def _request_view(db: Session, actor: Actor, request: RegistrationRequest) -> RequestView:
    namesake = request_decisions.namesake_of(db, actor, request)
    return RequestView(
        id=request.id, full_name=request_decisions.request_full_name(request),
        no_patronymic=request.no_patronymic, organization_id=request.organization_id,
        organization_name=request.organization.name, position=request.position, email=request.email,
        requested=RequestedPosition(request.requested), created_at=request.created_at,
        roles=_approvable_roles(db, actor, request), namesake_login=namesake.login if namesake else None,
    )


def list_pending_requests(database: sessionmaker[Session], principal: Principal) -> tuple[RequestView, ...]:
    """Waiting requests the actor may decide, oldest first; nobody else's."""
    with database() as db:
        actor = resolve(db, principal)
        return tuple(_request_view(db, actor, request) for request in pending_requests(db, actor))


def list_awaiting_activation(
    database: sessionmaker[Session], principal: Principal
) -> tuple[AwaitingActivation, ...]:
    """Approved requests whose person has not signed in through the link yet (to send it again)."""
    with database() as db:
        actor = resolve(db, principal)
        return tuple(
            AwaitingActivation(
                request_id=request.id, login=staff.login,
                # An old request's own copy may be blanked (bridge/services/request_retention.py): the card's.
                full_name=request_decisions.request_full_name(request)
                or full_name(staff.surname, staff.name, staff.patronymic),
                email=staff.email or request.email,
                organization_name=request.organization.name, approved_at=request.decided_at,
            )
            for request, staff in request_decisions.awaiting_activation(db, actor)
        )


def approve_request(
    database: sessionmaker[Session], principal: Principal, request_id: int, role: str, links: ActivationLinks,
    *, existing_login: str | None = None,
) -> RequestApproved:
    """«Одобрить»: the person (new, or `existing_login`), the role, the link and the mail, in one transaction."""
    context = audit_context_of(principal)
    with unit_of_work(
        database, context, "request.approve", request_id=request_id, role=role, existing_login=existing_login
    ) as db:
        actor = resolve(db, principal)
        approval = request_decisions.approve(db, actor, request_id, role, existing_login=existing_login)
        request, staff = approval.request, approval.staff
        values = {
            "name": _addressed(request), "organization": request.organization.name,
            "role_title": role_title(approval.role.role), "login": staff.login,
        }
        if approval.link is not None:
            kind = MailKind.REQUEST_APPROVED
            values |= {"link": links.link(approval.link.token), "expires": moscow_datetime(approval.link.expires_at)}
        else:
            kind = MailKind.REQUEST_ROLE_GRANTED
        queue_mail(db, kind, request.email, mail_templates().render(kind, values), staff_id=staff.id)
        return RequestApproved(
            request_id=request.id, login=staff.login, full_name=request_decisions.request_full_name(request),
            email=request.email, role_title=role_title(approval.role.role),
            organization_name=request.organization.name,
            link_expires_at=approval.link.expires_at if approval.link is not None else None,
        )


def reject_request(
    database: sessionmaker[Session], principal: Principal, request_id: int, reason: str
) -> RequestRejected:
    """«Отклонить» with a reason, which the person receives by mail."""
    with unit_of_work(database, audit_context_of(principal), "request.reject", request_id=request_id) as db:
        request = request_decisions.reject(db, resolve(db, principal), request_id, reason)
        content = mail_templates().render(
            MailKind.REQUEST_REJECTED,
            {"name": _addressed(request), "organization": request.organization.name,
             "reason": request.decision_reason},
        )
        queue_mail(db, MailKind.REQUEST_REJECTED, request.email, content)
        return RequestRejected(
            request_id=request.id, full_name=request_decisions.request_full_name(request), email=request.email
        )


def resend_activation(
    database: sessionmaker[Session], principal: Principal, login: str, links: ActivationLinks
) -> ActivationResent:
    """«Выслать ссылку повторно»: a new link to the card's e-mail; the older ones stop working."""
    with unit_of_work(database, audit_context_of(principal), "activation.resend", login=login) as db:
        staff, link = request_decisions.resend_link(db, resolve(db, principal), login)
        assert staff.email is not None
        content = mail_templates().render(
            MailKind.ACTIVATION_LINK,
            {"name": given_names(staff), "login": staff.login, "link": links.link(link.token),
             "expires": moscow_datetime(link.expires_at)},
        )
        queue_mail(db, MailKind.ACTIVATION_LINK, staff.email, content, staff_id=staff.id)
        return ActivationResent(
            login=staff.login, full_name=full_name(staff.surname, staff.name, staff.patronymic),
            email=staff.email, expires_at=link.expires_at,
        )


def _addressed(request: RegistrationRequest) -> str:
    """How a letter addresses the applicant: «Мария Ивановна», or the name alone."""
    return " ".join(part for part in (request.name, request.patronymic) if part)
