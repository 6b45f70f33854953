"""«Заявка на подключение»: domain rules of a registration request (seed 003, steps 1–2).

A request names an organization of the registry and a position — руководитель (head) or
сотрудник (employee). It is decided by whoever may issue such a role in that organization under
the issuing hierarchy (`bridge.services.hierarchy`): a department for a school's head, the
director for a school's employees. The public form reveals nothing about who exists: a duplicate
or a request for a known e-mail gets the same answer as any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from bridge.services.hierarchy import authorize_issue, issuable_organizations, role_fits_organization
from bridge.services.roles import ROLES, Role
from bridge.services.throttle import address_scope, take_from_budget
from bridge.storage.enums import RegistryStatus
from bridge.storage.models import Organization, RegistrationRequest
from bridge.storage.types import utcnow

# Public-form budgets: reserved before anything is written or mailed.
ADDRESS_BUDGET = 5
ORGANIZATION_BUDGET = 30
BUDGET_WINDOW = timedelta(hours=1)


class RequestedPosition(StrEnum):
    HEAD = "head"
    EMPLOYEE = "employee"


POSITION_TITLES = {RequestedPosition.HEAD: "Руководитель", RequestedPosition.EMPLOYEE: "Сотрудник"}


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RequestForm:
    """What the applicant typed, as plain text (validated by `submit_request`)."""

    surname: str
    name: str
    patronymic: str | None
    no_patronymic: bool
    organization_id: int | None
    position: str
    email: str
    requested: str


class RequestsThrottled(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "requests_throttled",
            "Слишком много заявок за последнее время. Попробуйте через час или обратитесь в техническую поддержку.",
        )


def candidate_roles(organization: Organization, requested: RequestedPosition) -> list[Role]:
    """Roles an approval may give for this position in this organization (head or not, kind fits)."""
    wants_head = requested is RequestedPosition.HEAD
    return [
        role for role in Role
        if role is not Role.SUPPORT and ROLES[role].is_head == wants_head and role_fits_organization(role, organization)
    ]


def _text(value: str | None, limit: int) -> str | None:
    cleaned = " ".join(value.split()) if value else ""
    return cleaned[:limit] or None


def checked_email(value: str) -> str:
    """An e-mail address as typed on a public form, or InvalidInput."""
    email = " ".join(value.split())
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or "@" in domain or len(email) > 320:
        raise InvalidInput("invalid_email", "Адрес электронной почты указан неверно.")
    return email


def submit_request(
    db: Session, form: RequestForm, address: str | None, now: datetime | None = None
) -> RegistrationRequest | None:
    """Validate and file a request; None when an identical one is already waiting (same answer).

    Budgets per address and per organization are reserved before anything is written (input that
    is plainly wrong is refused before, and costs nothing: it files nothing and mails nobody).
    """
    now = now or utcnow()
    surname, name = _text(form.surname, 200), _text(form.name, 200)
    patronymic = _text(form.patronymic, 200)
    if surname is None or name is None:
        raise InvalidInput("name_required", "Укажите фамилию и имя.")
    if patronymic is None and not form.no_patronymic:
        raise InvalidInput("patronymic_required", "Укажите отчество или отметьте «Без отчества».")
    if patronymic is not None and form.no_patronymic:
        raise InvalidInput("patronymic_conflict", "Отчество указано, но отмечено «Без отчества»: оставьте что-то одно.")
    position = _text(form.position, 200)
    if position is None:
        raise InvalidInput("position_required", "Укажите должность.")
    email = checked_email(form.email)
    try:
        requested = RequestedPosition(form.requested)
    except ValueError:
        raise InvalidInput("requested_position_required", "Выберите: руководитель или сотрудник.") from None
    organization = db.get(Organization, form.organization_id) if form.organization_id else None
    if organization is None or organization.registry_status != RegistryStatus.ACTIVE:
        raise NotFound(
            "organization_not_in_registry",
            "Организации нет в реестре. Сначала отправьте заявку на включение организации в реестр.",
        )
    if not candidate_roles(organization, requested):
        raise InvalidInput(
            "position_not_for_organization",
            f"В организации «{organization.name}» учётные записи "
            f"{'руководителей' if requested is RequestedPosition.HEAD else 'сотрудников'} не выдаются.",
        )
    if not take_from_budget(db, f"registration:address:{address_scope(address)}", ADDRESS_BUDGET, BUDGET_WINDOW, now):
        raise RequestsThrottled()
    if not take_from_budget(db, f"registration:organization:{organization.id}", ORGANIZATION_BUDGET,
                            BUDGET_WINDOW, now):
        raise RequestsThrottled()
    waiting = db.scalar(
        select(RegistrationRequest.id).where(
            RegistrationRequest.organization_id == organization.id,
            RegistrationRequest.email == email,
            RegistrationRequest.status == RequestStatus.PENDING.value,
        )
    )
    if waiting is not None:
        return None
    request = RegistrationRequest(
        surname=surname, name=name, patronymic=patronymic, no_patronymic=form.no_patronymic,
        organization_id=organization.id, position=position, email=email, requested=requested.value,
        status=RequestStatus.PENDING.value, created_at=now,
    )
    db.add(request)
    db.flush()
    return request


def may_decide(db: Session, actor: Actor, request: RegistrationRequest) -> bool:
    """Whether the actor may issue at least one role this request could be approved with."""
    organization = db.get(Organization, request.organization_id)
    if organization is None:
        return False
    for role in candidate_roles(organization, RequestedPosition(request.requested)):
        try:
            authorize_issue(db, actor, role, organization)
        except DomainError:
            continue
        return True
    return False


def pending_requests(db: Session, actor: Actor) -> list[RegistrationRequest]:
    """Waiting requests the actor may decide, oldest first (the hierarchy, not a flag, decides)."""
    organizations = {organization.id for organization in issuable_organizations(db, actor)}
    if not organizations:
        return []
    waiting = db.scalars(
        select(RegistrationRequest)
        .where(
            RegistrationRequest.status == RequestStatus.PENDING.value,
            RegistrationRequest.organization_id.in_(organizations),
        )
        .order_by(RegistrationRequest.created_at, RegistrationRequest.id)
    )
    return [request for request in waiting if may_decide(db, actor, request)]


def decidable_request(db: Session, actor: Actor, request_id: int) -> RegistrationRequest:
    """The pending request, if this actor may decide it (locked against a parallel decision)."""
    request = db.get(RegistrationRequest, request_id, with_for_update=True, populate_existing=True)
    if request is None or not may_decide(db, actor, request):
        # One answer for "no such request" and "not yours": ids are not an oracle.
        raise NotFound("unknown_request", "Заявка не найдена или решение по ней принимает другой администратор.")
    if request.status != RequestStatus.PENDING.value:
        raise PermissionDenied("request_already_decided", "По этой заявке уже принято решение.")
    return request


def mark_decided(
    db: Session, actor: Actor, request: RegistrationRequest, status: RequestStatus, reason: str | None,
    staff_id: int | None = None, now: datetime | None = None,
) -> None:
    request.status = status.value
    request.decided_at = now or utcnow()
    request.decided_by_id = actor.staff_id
    request.decision_reason = reason
    request.staff_id = staff_id
    db.flush()
