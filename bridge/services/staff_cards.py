"""What an administrator reads about staff: one person's card (the list: `staff_search.py`).

A card is plain values built inside the transaction, so nothing above the services ever holds an
ORM object (or a password hash) after the session closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from bridge.services.credentials import CREDENTIAL_STATUS_TITLES, CredentialStatus, credential_status
from bridge.services.identifiers import formatted_snils
from bridge.services.person_names import full_name
from bridge.services.roles import Role, role_title
from bridge.services.signin_sessions import is_role_active
from bridge.storage.enums import DeactivationReason, StaffStatus
from bridge.storage.models import RoleAssignment, StaffMember
from bridge.storage.types import utcnow


@dataclass(frozen=True)
class RoleView:
    id: int
    role: Role
    title: str
    organization_id: int
    organization_name: str
    start_date: date
    end_date: date | None
    active: bool
    # The job title in that organization (the profile's `position`).
    position: str | None = None


# How pages and letters name the external accounts a person binds.
PROVIDER_TITLES = {"esia": "Госуслуги (ЕСИА)", "rsaa": "РСАА"}


def provider_title(provider: str) -> str:
    return PROVIDER_TITLES.get(provider, provider)


@dataclass(frozen=True)
class BindingView:
    provider: str
    created_at: datetime
    last_used_at: datetime | None

    @property
    def title(self) -> str:
        return provider_title(self.provider)


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
    status: StaffStatus
    status_title: str
    blocked_at: datetime | None
    blocked_reason: str | None
    # Who blocked: a login, or "cli:support".
    blocked_by: str | None
    deactivated_at: datetime | None
    deactivation_reason: DeactivationReason | None
    personal_data_removed_at: datetime | None
    credential_status: CredentialStatus
    credential_status_title: str
    credential_issued_at: datetime | None
    credential_expires_at: datetime | None
    credential_used_at: datetime | None
    roles: tuple[RoleView, ...]
    bindings: tuple[BindingView, ...]
    # The workplace data the person confirmed (bridge/services/staff_profile.py); the phone as stored,
    # E.164 («+74952760420»): pages show it with the `phone` filter, the CLI with formatted_phone.
    phone: str | None = None
    email_confirmed: bool = False
    profile_confirmed_at: datetime | None = None

    @property
    def blocked(self) -> bool:
        """Cannot sign in: blocked or deactivated."""
        return self.status != StaffStatus.ACTIVE

    @property
    def deactivated(self) -> bool:
        return self.status == StaffStatus.DEACTIVATED

    @property
    def snils_formatted(self) -> str | None:
        return formatted_snils(self.snils)

    @property
    def deactivation_reason_title(self) -> str | None:
        if self.deactivation_reason is None:
            return None
        return DEACTIVATION_REASON_TITLES.get(self.deactivation_reason, self.deactivation_reason.value)


STATUS_TITLES = {
    StaffStatus.ACTIVE: "активен",
    StaffStatus.BLOCKED: "заблокирован",
    StaffStatus.DEACTIVATED: "кабинет отключён",
}

DEACTIVATION_REASON_TITLES = {
    DeactivationReason.PERSON_ASKED: "по просьбе сотрудника",
    DeactivationReason.LEFT: "сотрудник уволился",
}


def role_view(assignment: RoleAssignment, now: datetime) -> RoleView:
    return RoleView(
        id=assignment.id,
        role=assignment.role,
        title=role_title(assignment.role),
        organization_id=assignment.organization_id,
        organization_name=assignment.organization.name,
        start_date=assignment.start_date,
        end_date=assignment.end_date,
        active=is_role_active(assignment, now),
        position=assignment.position,
    )


def staff_card(db: Session, staff: StaffMember, now: datetime | None = None) -> StaffCard:
    now = now or utcnow()
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
        full_name=full_name(staff.surname, staff.name, staff.patronymic),
        snils=staff.snils,
        email=staff.email,
        note=staff.note,
        status=staff.status,
        status_title=STATUS_TITLES[staff.status],
        blocked_at=staff.blocked_at,
        blocked_reason=staff.blocked_reason,
        blocked_by=staff.blocked_by,
        deactivated_at=staff.deactivated_at,
        deactivation_reason=staff.deactivation_reason,
        personal_data_removed_at=staff.personal_data_removed_at,
        credential_status=status,
        credential_status_title=CREDENTIAL_STATUS_TITLES[status],
        credential_issued_at=staff.credential_issued_at,
        credential_expires_at=staff.credential_expires_at,
        credential_used_at=staff.credential_used_at,
        roles=tuple(role_view(assignment, now) for assignment in staff.roles),
        bindings=bindings,
        phone=staff.phone,
        email_confirmed=bool(staff.email) and staff.confirmed_email == staff.email,
        profile_confirmed_at=staff.profile_confirmed_at,
    )
