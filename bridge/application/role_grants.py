"""Roles an administrator may grant or change: what the forms offer, «Добавить роль», «Завершить», «Изменить даты»."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.staff_cards import StaffAdminPolicy, StaffView, view_of
from bridge.application.unit_of_work import unit_of_work
from bridge.services import role_changes, staff
from bridge.services.credentials import IssuedCredential
from bridge.services.hierarchy import issuable_organizations, offerable_roles, role_fits_organization
from bridge.services.role_grants import RoleGrant
from bridge.services.roles import Role, role_title
from bridge.services.staff_cards import RoleView, role_view
from bridge.storage.types import utcnow

__all__ = [
    "IssuingChoices", "RoleAdded", "RoleChanged", "RoleGrant", "add_role", "change_role_dates", "end_role",
    "issuing_choices",
]


@dataclass(frozen=True)
class IssuingChoices:
    """What the actor may pick in the Организация and Роль selects: (id, name) and (role, title)."""

    organizations: tuple[tuple[int, str], ...]
    roles: tuple[tuple[Role, str], ...]
    # Which of those roles each organization takes: a role fits some kinds of organization only
    # (the form offers a role only with an organization it fits).
    roles_of: Mapping[int, tuple[Role, ...]] = field(default_factory=dict)

    def organizations_for(self, role: Role) -> tuple[int, ...]:
        return tuple(organization for organization, roles in self.roles_of.items() if role in roles)


@dataclass(frozen=True)
class RoleChanged:
    staff: StaffView
    role: RoleView
    # False when the dates asked for were the role's own (nothing written or audited).
    changed: bool


@dataclass(frozen=True)
class RoleAdded:
    staff: StaffView
    role: RoleView
    # Set only when the person had never held a credential: the addition issued their first.
    credential: IssuedCredential | None


def issuing_choices(database: sessionmaker[Session], principal: Principal) -> IssuingChoices:
    """Organizations and roles the actor could issue; the use cases still check each grant."""
    with database() as db:
        actor = resolve(db, principal)
        organizations = issuable_organizations(db, actor)
        roles = offerable_roles(db, actor)
        return IssuingChoices(
            organizations=tuple((org.id, org.name) for org in organizations),
            roles=tuple((role, role_title(role)) for role in roles),
            roles_of={
                org.id: tuple(role for role in roles if role_fits_organization(role, org)) for org in organizations
            },
        )


def add_role(
    database: sessionmaker[Session], principal: Principal, login: str, grant: RoleGrant, policy: StaffAdminPolicy
) -> RoleAdded:
    """Another role for a person the actor manages (`bridge staff add-role` and the card's form alike)."""
    with unit_of_work(
        database, audit_context_of(principal), "role.add",
        login=login, role=grant.role, organization_id=grant.organization_id,
    ) as db:
        addition = staff.add_role(db, resolve(db, principal), login, grant, credential_ttl=policy.credential_ttl)
        return RoleAdded(
            staff=view_of(db, addition.staff, policy),
            role=role_view(addition.role, utcnow()),
            credential=addition.credential,
        )


def end_role(
    database: sessionmaker[Session], principal: Principal, login: str, role_id: int, end_date: date,
    policy: StaffAdminPolicy,
) -> RoleChanged:
    """«Завершить» (`bridge staff end-role`): the role's last day; for whoever may issue that role."""
    with unit_of_work(
        database, audit_context_of(principal), "role.end", login=login, role_assignment_id=role_id
    ) as db:
        change = role_changes.end_role(db, resolve(db, principal), login, role_id, end_date)
        return RoleChanged(
            staff=view_of(db, change.staff, policy), role=role_view(change.role, utcnow()), changed=change.changed
        )


def change_role_dates(
    database: sessionmaker[Session], principal: Principal, login: str, role_id: int,
    start_date: date, end_date: date | None, policy: StaffAdminPolicy,
) -> RoleChanged:
    """«Изменить даты» (`bridge staff role-dates`): a role's start and end; for whoever may issue it."""
    with unit_of_work(
        database, audit_context_of(principal), "role.change_dates", login=login, role_assignment_id=role_id
    ) as db:
        change = role_changes.change_role_dates(db, resolve(db, principal), login, role_id, start_date, end_date)
        return RoleChanged(
            staff=view_of(db, change.staff, policy), role=role_view(change.role, utcnow()), changed=change.changed
        )
