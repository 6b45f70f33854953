"""Deciding a «Заявка на подключение», and the activation links an approval mails (seed 003, steps 2–3).

An approval gives the asked-for position as a concrete role the administrator may issue: to a
new staff member created with no password (duplicates are refused as on «Новый сотрудник»), or
to the person the administrator names as the one who asked. Unless that person is bound already,
the approval issues an activation link: the person binds their external ID through it and never
holds a password, and the administrator never sees a secret. A rejection needs a reason. Both
answers are mailed by the use case (bridge/application/registration.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.activation_links import IssuedLink, issue_activation_link
from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import Conflict, InvalidInput
from bridge.services.hierarchy import authorize_manage, manages_any
from bridge.services.person_names import comparable, full_name
from bridge.services.registration_requests import (
    RequestedPosition,
    RequestStatus,
    candidate_roles,
    decidable_request,
    mark_decided,
)
from bridge.services.role_grants import RoleGrant, parse_role
from bridge.services.roles import role_title
from bridge.services.staff import NewStaff, add_role, find_namesake, get_managed_staff, register_person
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ExternalBinding, Organization, RegistrationRequest, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

REASON_LIMIT = 1000


@dataclass(frozen=True)
class Approval:
    request: RegistrationRequest
    staff: StaffMember
    role: RoleAssignment
    # None when the person is bound already: the new role is theirs at their next sign-in.
    link: IssuedLink | None


def request_full_name(request: RegistrationRequest) -> str:
    return full_name(request.surname, request.name, request.patronymic)


def namesake_of(db: Session, actor: Actor, request: RegistrationRequest) -> StaffMember | None:
    """Someone of the organization with the request's full name whose card the actor may open."""
    namesake = find_namesake(db, request.organization_id, request_full_name(request))
    if namesake is None or not manages_any(db, actor, namesake.roles):
        return None
    return namesake


def approve(
    db: Session, actor: Actor, request_id: int, role_value: str, *, existing_login: str | None = None,
    now: datetime | None = None,
) -> Approval:
    """Approve with `role_value`; with `existing_login`, give the role to that person instead of a new one."""
    now = now or utcnow()
    request = decidable_request(db, actor, request_id)
    organization = db.get(Organization, request.organization_id)
    assert organization is not None, "a decidable request has its organization"
    role = parse_role(role_value)
    if role not in candidate_roles(organization, RequestedPosition(request.requested)):
        raise InvalidInput(
            "role_not_for_request",
            f"Роль «{role_title(role)}» не подходит к этой заявке: выберите одну из предложенных.",
            role=role.value,
        )
    # Today as the role checks judge it (signin_sessions): the person can sign in at once.
    grant = RoleGrant(organization.id, role.value, now.date())
    if existing_login:
        staff, assignment = _give_role(db, actor, request, existing_login, grant, now)
    else:
        enrolment = register_person(
            db, actor,
            NewStaff(
                surname=request.surname, name=request.name, patronymic=request.patronymic,
                no_patronymic=request.no_patronymic, grant=grant, email=request.email,
                note=f"Заявка на подключение №{request.id}: {request.position}",
            ),
        )
        staff, assignment = enrolment.staff, enrolment.role
    if request.position and not assignment.position:
        # The position the person wrote on the request: the profile page shows it filled in.
        assignment.position = request.position[:200]
    link = None
    if not _is_bound(db, staff):
        # The link hands over the whole account: the approver must be above every role it holds.
        authorize_manage(db, actor, staff.roles)
        link = issue_activation_link(db, staff.id, request.email, request_id=request.id, now=now)
    mark_decided(db, actor, request, RequestStatus.APPROVED, None, staff_id=staff.id, now=now)
    record(
        db, actor.audit_context, "request.approved", "success", subject_staff_id=staff.id,
        organization_id=organization.id, request_id=request.id, role=role.value, login=staff.login,
        existing_person=bool(existing_login),
    )
    if link is not None:
        record_link_issued(db, actor, staff, link, reason="request_approved", request_id=request.id)
    return Approval(request=request, staff=staff, role=assignment, link=link)


def _give_role(
    db: Session, actor: Actor, request: RegistrationRequest, login: str, grant: RoleGrant, now: datetime
) -> tuple[StaffMember, RoleAssignment]:
    staff = get_managed_staff(db, actor, login)
    if comparable(full_name(staff.surname, staff.name, staff.patronymic)) != comparable(request_full_name(request)):
        raise InvalidInput(
            "request_not_this_person",
            f"ФИО в заявке ({request_full_name(request)}) не совпадает с карточкой сотрудника «{login}».",
            login=login,
        )
    if staff.status != StaffStatus.ACTIVE:
        raise Conflict("staff_blocked", f"Учётная запись «{login}» заблокирована: роль по заявке не выдаётся.")
    addition = add_role(db, actor, login, grant, credential_ttl=None, now=now)
    return addition.staff, addition.role


def _is_bound(db: Session, staff: StaffMember) -> bool:
    return db.scalar(select(ExternalBinding.id).where(ExternalBinding.staff_id == staff.id).limit(1)) is not None


def reject(
    db: Session, actor: Actor, request_id: int, reason: str, now: datetime | None = None
) -> RegistrationRequest:
    """Reject with a reason the person will read in the mail."""
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise InvalidInput("reason_required", "Укажите причину отказа: её получит заявитель.")
    if len(cleaned) > REASON_LIMIT:
        raise InvalidInput("reason_too_long", f"Причина отказа длиннее {REASON_LIMIT} знаков: сократите её.")
    request = decidable_request(db, actor, request_id)
    mark_decided(db, actor, request, RequestStatus.REJECTED, cleaned, now=now)
    record(
        db, actor.audit_context, "request.rejected", "success", organization_id=request.organization_id,
        request_id=request.id, reason=cleaned,
    )
    return request


def resend_link(db: Session, actor: Actor, login: str, now: datetime | None = None) -> tuple[StaffMember, IssuedLink]:
    """A new activation link to the person's e-mail; every older unused link of theirs stops working."""
    staff = get_managed_staff(db, actor, login)
    # Like a password reset, a link hands over the whole account.
    authorize_manage(db, actor, staff.roles)
    if staff.status != StaffStatus.ACTIVE:
        raise Conflict("staff_blocked", f"Учётная запись «{login}» заблокирована: ссылка не высылается.")
    if _is_bound(db, staff):
        raise Conflict(
            "already_bound",
            f"Учётная запись «{login}» уже привязана: сотрудник входит через Госуслуги (РСАА), ссылка не нужна.",
        )
    if not staff.email:
        raise InvalidInput(
            "email_missing",
            f"В карточке «{login}» нет адреса электронной почты: выдайте пароль («Сбросить пароль»).",
        )
    link = issue_activation_link(db, staff.id, staff.email, now=now)
    record_link_issued(db, actor, staff, link, reason="resend")
    return staff, link


def record_link_issued(
    db: Session, actor: Actor, staff: StaffMember, link: IssuedLink, *, reason: str, request_id: int | None = None
) -> None:
    """"activation.link_issued": which link, until when, why; never the token."""
    record(
        db, actor.audit_context, "activation.link_issued", "success", subject_staff_id=staff.id,
        login=staff.login, link_id=link.link_id, expires_at=link.expires_at.isoformat(), reason=reason,
        request_id=request_id,
    )


def awaiting_activation(db: Session, actor: Actor, limit: int = 50) -> list[tuple[RegistrationRequest, StaffMember]]:
    """Approved requests whose person has not bound yet, newest first, among people the actor manages."""
    unbound = ~select(ExternalBinding.id).where(ExternalBinding.staff_id == RegistrationRequest.staff_id).exists()
    approved = db.scalars(
        select(RegistrationRequest)
        .where(
            RegistrationRequest.status == RequestStatus.APPROVED.value,
            RegistrationRequest.staff_id.is_not(None),
            unbound,
        )
        .order_by(RegistrationRequest.decided_at.desc(), RegistrationRequest.id.desc())
    )
    found: list[tuple[RegistrationRequest, StaffMember]] = []
    seen: set[int] = set()
    for request in approved:
        staff = db.get(StaffMember, request.staff_id)
        if staff is None or staff.id in seen or not manages_any(db, actor, staff.roles):
            continue
        seen.add(staff.id)
        found.append((request, staff))
        if len(found) == limit:
            break
    return found
