"""Staff members: registration with a first role, more roles, password resets, unlocks, cards, lists.

Every operation takes the acting administrator and applies the issuing hierarchy. Services never
commit: a refusal raises inside the caller's transaction, which then rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.credentials import (
    CREDENTIAL_STATUS_TITLES,
    CredentialRetirement,
    IssuedCredential,
    credential_status,
    has_ever_held_credential,
    issue_credential,
    retire_federation,
)
from bridge.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bridge.services.hierarchy import authorize_issue, authorize_manage, may_manage_role
from bridge.services.identifiers import normalized_snils
from bridge.services.logins import unique_login
from bridge.services.organizations import get_organization
from bridge.services.roles import Role, role_title
from bridge.services.signin_sessions import is_role_active
from bridge.services.throttle import lift_login_throttle
from bridge.storage.models import Organization, RoleAssignment, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class RoleGrant:
    organization_id: int
    role: str
    start_date: date
    end_date: date | None = None


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


@dataclass(frozen=True)
class Registration:
    staff: StaffMember
    role: RoleAssignment
    credential: IssuedCredential


@dataclass(frozen=True)
class RoleAddition:
    staff: StaffMember
    role: RoleAssignment
    # Set only when the person had never held a credential: the addition issued their first.
    credential: IssuedCredential | None


@dataclass(frozen=True)
class PasswordReset:
    staff: StaffMember
    credential: IssuedCredential
    retirement: CredentialRetirement


@dataclass(frozen=True)
class ThrottleLift:
    staff: StaffMember
    counters_cleared: int


@dataclass(frozen=True)
class RoleView:
    id: int
    role: str
    title: str
    organization_id: int
    organization_name: str
    start_date: date
    end_date: date | None
    active: bool


@dataclass(frozen=True)
class BindingView:
    provider: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class StaffCard:
    """What an administrator sees about a person; never a password or its hash."""

    id: int
    login: str
    surname: str
    name: str
    patronymic: str | None
    no_patronymic: bool
    full_name: str
    snils: str | None
    email: str | None
    note: str | None
    status: str
    credential_status: str
    credential_status_title: str
    credential_issued_at: datetime | None
    credential_expires_at: datetime | None
    credential_used_at: datetime | None
    roles: tuple[RoleView, ...]
    bindings: tuple[BindingView, ...]


# --- input -----------------------------------------------------------------------------------


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("unknown_role", f"Неизвестная роль «{value}».", role=value) from None


def _clean(value: str | None) -> str | None:
    cleaned = " ".join(value.split()) if value else ""
    return cleaned or None


def _normalized_fio(surname: str, name: str, patronymic: str | None) -> str:
    return " ".join(part for part in (surname, name, patronymic or "") if part).casefold().replace("ё", "е")


def _check_dates(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise InvalidInput(
            "end_before_start",
            f"Конечная дата ({end:%d.%m.%Y}) раньше начальной ({start:%d.%m.%Y}).",
        )


def _check_email(email: str | None) -> str | None:
    email = _clean(email)
    if email is None:
        return None
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or "@" in domain:
        raise InvalidInput("invalid_email", f"Адрес электронной почты «{email}» указан неверно.")
    return email


def _grant_target(db: Session, actor: Actor, grant: RoleGrant) -> tuple[Role, Organization]:
    role = parse_role(grant.role)
    organization = get_organization(db, grant.organization_id)
    _check_dates(grant.start_date, grant.end_date)
    authorize_issue(db, actor, role, organization)
    return role, organization


def _overlaps(assignment: RoleAssignment, start: date, end: date | None) -> bool:
    return (assignment.end_date is None or start <= assignment.end_date) and (
        end is None or assignment.start_date <= end
    )


# --- operations ------------------------------------------------------------------------------


def get_managed_staff(db: Session, actor: Actor, login: str) -> StaffMember:
    """The person if the actor manages at least one of their roles (support at the CLI sees all)."""
    staff = get_staff(db, login)
    if not actor.is_cli_support and not any(may_manage_role(db, actor, role) for role in staff.roles):
        raise PermissionDenied(
            "staff_not_managed", f"Сотрудник «{login}» не относится к вашим подчинённым ролям.", login=login
        )
    return staff


def get_staff(db: Session, login: str) -> StaffMember:
    staff = db.scalar(select(StaffMember).where(StaffMember.login == login))
    if staff is None:
        raise NotFound("unknown_staff", f"Сотрудник с логином «{login}» не найден.", login=login)
    return staff


def register_staff(
    db: Session, actor: Actor, new: NewStaff, *, credential_ttl: timedelta, now: datetime | None = None
) -> Registration:
    """A new staff member with a first role and a freshly issued login and password."""
    now = now or utcnow()
    surname, name, patronymic = _clean(new.surname), _clean(new.name), _clean(new.patronymic)
    if surname is None:
        raise InvalidInput("surname_required", "Укажите фамилию.")
    if name is None:
        raise InvalidInput("name_required", "Укажите имя.")
    if patronymic is not None and new.no_patronymic:
        raise InvalidInput(
            "patronymic_conflict", "Отчество указано, но отмечено «Без отчества»: оставьте что-то одно."
        )
    if patronymic is None and not new.no_patronymic:
        raise InvalidInput("patronymic_required", "Укажите отчество или отметьте «Без отчества».")
    snils_input = _clean(new.snils)
    snils = normalized_snils(snils_input) if snils_input else None
    email = _check_email(new.email)
    role, organization = _grant_target(db, actor, new.grant)

    if snils is not None and db.scalar(select(StaffMember.id).where(StaffMember.snils == snils)) is not None:
        raise Conflict("duplicate_snils", "Сотрудник с таким СНИЛС уже зарегистрирован.")
    fio = _normalized_fio(surname, name, patronymic)
    colleagues = db.scalars(
        select(StaffMember)
        .join(RoleAssignment, RoleAssignment.staff_id == StaffMember.id)
        .where(RoleAssignment.organization_id == organization.id)
    ).unique()
    for colleague in colleagues:
        if _normalized_fio(colleague.surname, colleague.name, colleague.patronymic) == fio:
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
        note=_clean(new.note),
        login=unique_login(db, surname),
    )
    db.add(staff)
    db.flush()
    assignment = _assign(db, actor, staff, role, organization, new.grant)
    credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
    context = actor.audit_context
    record(
        db, context, "staff.registered", "success", subject_staff_id=staff.id,
        organization_id=organization.id, login=staff.login, role=role.value,
    )
    _audit_role_added(db, actor, staff, assignment)
    _audit_issued(db, actor, staff, credential, reason="registration", organization_id=organization.id)
    return Registration(staff=staff, role=assignment, credential=credential)


def add_role(
    db: Session,
    actor: Actor,
    login: str,
    grant: RoleGrant,
    *,
    credential_ttl: timedelta,
    now: datetime | None = None,
) -> RoleAddition:
    """Another role for an existing person; their first credential if they never had one."""
    now = now or utcnow()
    staff = get_staff(db, login)
    role, organization = _grant_target(db, actor, grant)
    for existing in staff.roles:
        if (
            existing.organization_id == organization.id
            and existing.role == role.value
            and _overlaps(existing, grant.start_date, grant.end_date)
        ):
            raise Conflict(
                "duplicate_role",
                f"У сотрудника уже есть роль «{role_title(role)}» в «{organization.name}» на эти даты.",
                login=login,
                organization_id=organization.id,
            )
    issues_credential = not has_ever_held_credential(staff)
    if issues_credential:
        # The first password hands over the whole account: the actor must be above all its roles.
        authorize_manage(db, actor, staff.roles)
    assignment = _assign(db, actor, staff, role, organization, grant)
    _audit_role_added(db, actor, staff, assignment)
    credential = None
    if issues_credential:
        credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
        _audit_issued(db, actor, staff, credential, reason="role_added", organization_id=organization.id)
    return RoleAddition(staff=staff, role=assignment, credential=credential)


def reset_password(
    db: Session, actor: Actor, login: str, *, credential_ttl: timedelta, now: datetime | None = None
) -> PasswordReset:
    """«Сбросить пароль»: a new password; the old one, the bindings and every session die at once."""
    now = now or utcnow()
    staff = get_staff(db, login)
    authorize_manage(db, actor, _current_roles(staff, now))
    credential = issue_credential(db, staff, ttl=credential_ttl, now=now)
    retirement = retire_federation(db, staff, now)
    record(
        db, actor.audit_context, "credential.reset", "success", subject_staff_id=staff.id,
        login=staff.login, expires_at=credential.expires_at.isoformat(),
        bindings_removed=retirement.bindings_removed, sessions_ended=retirement.sessions_ended,
        tokens_revoked=retirement.tokens_revoked,
    )
    _audit_issued(db, actor, staff, credential, reason="reset", organization_id=None)
    return PasswordReset(staff=staff, credential=credential, retirement=retirement)


def unlock_password_signin(db: Session, actor: Actor, login: str, now: datetime | None = None) -> ThrottleLift:
    """«Снять блокировку входа»: forget the failed passwords counted against the person's login.

    Same permission as a reset. Counters of the login from every address go; an address's own
    budget (all logins from there) stays, as it is not this person's.
    """
    now = now or utcnow()
    staff = get_staff(db, login)
    authorize_manage(db, actor, _current_roles(staff, now))
    cleared = lift_login_throttle(db, staff.login)
    record(
        db, actor.audit_context, "throttle.unlocked", "success", subject_staff_id=staff.id,
        login=staff.login, counters_cleared=cleared,
    )
    return ThrottleLift(staff=staff, counters_cleared=cleared)


def _current_roles(staff: StaffMember, now: datetime) -> list[RoleAssignment]:
    """Roles not yet ended; a person whose roles all ended is judged by their past roles."""
    today = now.date()
    current = [role for role in staff.roles if role.end_date is None or role.end_date >= today]
    return current or list(staff.roles)


def _assign(
    db: Session, actor: Actor, staff: StaffMember, role: Role, organization: Organization, grant: RoleGrant
) -> RoleAssignment:
    assignment = RoleAssignment(
        staff_id=staff.id,
        organization_id=organization.id,
        role=role.value,
        start_date=grant.start_date,
        end_date=grant.end_date,
        granted_by_id=actor.staff_id,
    )
    db.add(assignment)
    db.flush()
    db.expire(staff, ["roles"])
    return assignment


def _audit_role_added(db: Session, actor: Actor, staff: StaffMember, assignment: RoleAssignment) -> None:
    record(
        db, actor.audit_context, "role.added", "success", subject_staff_id=staff.id,
        organization_id=assignment.organization_id, login=staff.login, role=assignment.role,
        start_date=assignment.start_date.isoformat(),
        end_date=assignment.end_date.isoformat() if assignment.end_date else None,
    )


def _audit_issued(
    db: Session,
    actor: Actor,
    staff: StaffMember,
    credential: IssuedCredential,
    *,
    reason: str,
    organization_id: int | None,
) -> None:
    record(
        db, actor.audit_context, "credential.issued", "success", subject_staff_id=staff.id,
        organization_id=organization_id, login=staff.login, reason=reason,
        expires_at=credential.expires_at.isoformat(),
    )


# --- reading ---------------------------------------------------------------------------------


def full_name(staff: StaffMember) -> str:
    return " ".join(part for part in (staff.surname, staff.name, staff.patronymic) if part)


def staff_card(db: Session, staff: StaffMember, now: datetime | None = None) -> StaffCard:
    now = now or utcnow()
    roles = tuple(
        RoleView(
            id=assignment.id,
            role=assignment.role,
            title=role_title(assignment.role),
            organization_id=assignment.organization_id,
            organization_name=assignment.organization.name,
            start_date=assignment.start_date,
            end_date=assignment.end_date,
            active=is_role_active(assignment, now),
        )
        for assignment in staff.roles
    )
    bindings = tuple(
        BindingView(provider=binding.provider, created_at=binding.created_at, last_used_at=binding.last_used_at)
        for binding in sorted(staff.bindings, key=lambda binding: binding.id)
    )
    status = credential_status(staff, now)
    return StaffCard(
        id=staff.id,
        login=staff.login,
        surname=staff.surname,
        name=staff.name,
        patronymic=staff.patronymic,
        no_patronymic=staff.no_patronymic,
        full_name=full_name(staff),
        snils=staff.snils,
        email=staff.email,
        note=staff.note,
        status=staff.status,
        credential_status=status,
        credential_status_title=CREDENTIAL_STATUS_TITLES[status],
        credential_issued_at=staff.credential_issued_at,
        credential_expires_at=staff.credential_expires_at,
        credential_used_at=staff.credential_used_at,
        roles=roles,
        bindings=bindings,
    )


def _matches_surname(staff: StaffMember, surname: str | None) -> bool:
    if not surname:
        return True
    return staff.surname.casefold().replace("ё", "е").startswith(surname.strip().casefold().replace("ё", "е"))


def managed_staff(
    db: Session,
    actor: Actor,
    *,
    surname: str | None = None,
    organization_id: int | None = None,
    now: datetime | None = None,
) -> list[StaffCard]:
    """People holding at least one role the actor could issue (technical support at the CLI: all)."""
    query = select(RoleAssignment).order_by(RoleAssignment.id)
    if organization_id is not None:
        query = query.where(RoleAssignment.organization_id == organization_id)
    found: dict[int, StaffMember] = {}
    for assignment in db.scalars(query):
        if assignment.staff_id in found:
            continue
        if actor.is_cli_support or may_manage_role(db, actor, assignment):
            found[assignment.staff_id] = assignment.staff
    if actor.is_cli_support and organization_id is None:
        for staff in db.scalars(select(StaffMember)):
            found.setdefault(staff.id, staff)
    people = [staff for staff in found.values() if _matches_surname(staff, surname)]
    people.sort(key=lambda staff: (staff.surname.casefold(), staff.name.casefold(), staff.id))
    return [staff_card(db, staff, now) for staff in people]
