"""Staff members in the directory: finding one, registering a person with a first role, adding roles.

Every operation takes the acting administrator and applies the issuing hierarchy. Services never
commit: a refusal raises inside the caller's transaction, which then rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.contacts import normalized_email
from bridge.services.credentials import IssuedCredential, has_ever_held_credential, issue_credential, record_issued
from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.hierarchy import authorize_card, authorize_manage
from bridge.services.identifiers import normalized_snils
from bridge.services.logins import unique_login
from bridge.services.person_names import comparable, full_name
from bridge.services.phones import normalized_phone
from bridge.services.role_grants import RoleGrant, assign_role, grant_target, overlaps, record_role_added
from bridge.services.roles import role_title
from bridge.storage.enums import StaffStatus
from bridge.storage.models import Organization, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

# RoleGrant is part of what callers of `register_staff` and `add_role` pass.
__all__ = [
    "Enrolment", "NewStaff", "Registration", "RoleAddition", "RoleGrant", "add_role", "checked_names",
    "current_roles", "find_namesake", "get_managed_staff", "get_staff", "get_wholly_managed_staff", "register_person",
    "register_staff", "require_not_deactivated",
]


# The columns' width (bridge.storage.models.StaffMember).
NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class NewStaff:
    surname: str
    name: str
    patronymic: str | None
    no_patronymic: bool
    grant: RoleGrant
    snils: str | None = None
    email: str | None = None
    note: str | None = None
    # The work phone, as typed (kept in E.164: bridge/services/phones.py).
    phone: str | None = None


@dataclass(frozen=True)
class Registration:
    staff: StaffMember
    role: RoleAssignment
    credential: IssuedCredential


@dataclass(frozen=True)
class Enrolment:
    """A person registered with a first role and no credential yet."""

    staff: StaffMember
    role: RoleAssignment
    organization: Organization


@dataclass(frozen=True)
class RoleAddition:
    staff: StaffMember
    role: RoleAssignment
    # Set only when the person had never held a credential: the addition issued their first.
    credential: IssuedCredential | None


def get_staff(db: Session, login: str) -> StaffMember:
    staff = db.scalar(select(StaffMember).where(StaffMember.login == login))
    if staff is None:
        raise NotFound("unknown_staff", f"Сотрудник с логином «{login}» не найден.", login=login)
    return staff


def get_managed_staff(db: Session, actor: Actor, login: str) -> StaffMember:
    """The person if the actor manages at least one of their roles (support at the CLI sees all)."""
    staff = get_staff(db, login)
    authorize_card(db, actor, staff)
    return staff


def get_wholly_managed_staff(db: Session, actor: Actor, login: str, now: datetime | None = None) -> StaffMember:
    """The person if the actor is above every role they hold now: what hands over, takes away or
    rewrites the whole account (a reset, a block, an edit of the card) needs that much."""
    staff = get_managed_staff(db, actor, login)
    authorize_manage(db, actor, current_roles(staff, now or utcnow()))
    return staff


def current_roles(staff: StaffMember, now: datetime) -> list[RoleAssignment]:
    """Roles not yet ended; a person whose roles all ended is judged by their past roles."""
    today = now.date()
    current = [role for role in staff.roles if role.end_date is None or role.end_date >= today]
    return current or list(staff.roles)


def require_not_deactivated(staff: StaffMember) -> None:
    """A switched-off cabinet takes no new password, role or data: it only waits for its data to go."""
    if staff.status == StaffStatus.DEACTIVATED:
        raise Conflict(
            "staff_deactivated",
            f"Кабинет сотрудника «{staff.login}» отключён: изменить его нельзя. "
            "Если человек вернулся, зарегистрируйте его заново.",
            login=staff.login,
        )


def checked_names(
    surname: str | None, name: str | None, patronymic: str | None, no_patronymic: bool
) -> tuple[str, str, str | None]:
    """Фамилия, имя and отчество (or «без отчества») with spacing tidied; InvalidInput when incomplete."""
    surname, name, patronymic = _clean(surname), _clean(name), _clean(patronymic)
    if surname is None:
        raise InvalidInput("surname_required", "Укажите фамилию.")
    if name is None:
        raise InvalidInput("name_required", "Укажите имя.")
    if patronymic is not None and no_patronymic:
        raise InvalidInput(
            "patronymic_conflict", "Отчество указано, но отмечено «Без отчества»: оставьте что-то одно."
        )
    if patronymic is None and not no_patronymic:
        raise InvalidInput("patronymic_required", "Укажите отчество или отметьте «Без отчества».")
    if max(len(surname), len(name), len(patronymic or "")) > NAME_MAX_LENGTH:
        raise InvalidInput("name_too_long", f"Фамилия, имя и отчество — не длиннее {NAME_MAX_LENGTH} знаков каждое.")
    return surname, name, patronymic


def register_staff(
    db: Session, actor: Actor, new: NewStaff, *, credential_ttl: timedelta, now: datetime | None = None
) -> Registration:
    """A new staff member with a first role and a freshly issued login and password."""
    now = now or utcnow()
    enrolment = register_person(db, actor, new)
    staff, organization = enrolment.staff, enrolment.organization
    credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
    record_issued(
        db, actor.audit_context, staff, credential, reason="registration", organization_id=organization.id
    )
    return Registration(staff=staff, role=enrolment.role, credential=credential)


def register_person(db: Session, actor: Actor, new: NewStaff) -> Enrolment:
    """A new staff member with a first role and no password (an approved registration request
    sends an activation link instead). Refuses a duplicate as `register_staff` does."""
    surname, name, patronymic = checked_names(new.surname, new.name, new.patronymic, new.no_patronymic)
    snils_input = _clean(new.snils)
    snils = normalized_snils(snils_input) if snils_input else None
    email = checked_email(new.email)
    phone_input = _clean(new.phone)
    phone = normalized_phone(phone_input) if phone_input else None
    role, organization = grant_target(db, actor, new.grant)

    if snils is not None and db.scalar(select(StaffMember.id).where(StaffMember.snils == snils)) is not None:
        raise Conflict("duplicate_snils", "Сотрудник с таким СНИЛС уже зарегистрирован.")
    colleague = find_namesake(db, organization.id, full_name(surname, name, patronymic))
    if colleague is not None:
        raise Conflict(
            "duplicate_person",
            f"В организации «{organization.name}» уже есть сотрудник {colleague.surname} {colleague.name} "
            f"(логин {colleague.login}): добавьте ему роль вместо новой регистрации.",
            login=colleague.login,
            organization_id=organization.id,
        )

    staff = StaffMember(
        surname=surname,
        name=name,
        patronymic=patronymic,
        no_patronymic=new.no_patronymic,
        snils=snils,
        email=email,
        phone=phone,
        note=_clean(new.note),
        login=unique_login(db, surname),
    )
    db.add(staff)
    db.flush()
    assignment = assign_role(db, actor, staff, role, organization, new.grant)
    record(
        db, actor.audit_context, "staff.registered", "success", subject_staff_id=staff.id,
        organization_id=organization.id, login=staff.login, role=role.value,
    )
    record_role_added(db, actor, staff, assignment)
    return Enrolment(staff=staff, role=assignment, organization=organization)


def find_namesake(db: Session, organization_id: int, person_full_name: str) -> StaffMember | None:
    """Someone with a role in the organization (at any time) whose full name compares equal.

    One look-up by the indexed `search_name`, whatever the organization's size: adding a person
    no longer reads every colleague (issue 12).
    """
    holds_role_there = (
        select(RoleAssignment.id)
        .where(RoleAssignment.staff_id == StaffMember.id, RoleAssignment.organization_id == organization_id)
        .exists()
    )
    return db.scalars(
        select(StaffMember)
        .where(StaffMember.search_name == comparable(person_full_name), holds_role_there)
        .order_by(StaffMember.id)
        .limit(1)
    ).first()


def add_role(
    db: Session,
    actor: Actor,
    login: str,
    grant: RoleGrant,
    *,
    credential_ttl: timedelta | None,
    now: datetime | None = None,
) -> RoleAddition:
    """Another role for a person the actor manages; their first credential if they never had one.

    `credential_ttl` None issues no password at all (an approved request mails a link instead).
    """
    now = now or utcnow()
    staff = get_managed_staff(db, actor, login)
    require_not_deactivated(staff)
    role, organization = grant_target(db, actor, grant)
    for existing in staff.roles:
        if (
            existing.organization_id == organization.id
            and existing.role == role
            and overlaps(existing, grant.start_date, grant.end_date)
        ):
            raise Conflict(
                "duplicate_role",
                f"У сотрудника уже есть роль «{role_title(role)}» в «{organization.name}» на эти даты.",
                login=login,
                organization_id=organization.id,
            )
    issues_credential = credential_ttl is not None and not has_ever_held_credential(staff)
    if issues_credential:
        # The first password hands over the whole account: the actor must be above all its roles.
        authorize_manage(db, actor, staff.roles)
    assignment = assign_role(db, actor, staff, role, organization, grant)
    record_role_added(db, actor, staff, assignment)
    credential = None
    if issues_credential and credential_ttl is not None:
        credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
        record_issued(
            db, actor.audit_context, staff, credential, reason="role_added", organization_id=organization.id
        )
    return RoleAddition(staff=staff, role=assignment, credential=credential)


def _clean(value: str | None) -> str | None:
    cleaned = " ".join(value.split()) if value else ""
    return cleaned or None


def checked_email(email: str | None) -> str | None:
    """The address as typed, or None when empty; InvalidInput when it cannot be one (one rule: contacts)."""
    return normalized_email(email)


def _check_email(email: str | None) -> str | None:
    return checked_email(email)
