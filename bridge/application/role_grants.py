"""Roles an administrator may grant: what the forms offer, and «Добавить роль»."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.staff_cards import StaffAdminPolicy, StaffView, view_of
from bridge.application.unit_of_work import unit_of_work
from bridge.services import staff
from bridge.services.credentials import IssuedCredential
from bridge.services.hierarchy import issuable_organizations, offerable_roles
from bridge.services.role_grants import RoleGrant
from bridge.services.roles import Role, role_title
from bridge.services.staff_cards import RoleView, role_view
from bridge.storage.types import utcnow

__all__ = ["IssuingChoices", "RoleAdded", "RoleGrant", "add_role", "issuing_choices"]


@dataclass(frozen=True)
class IssuingChoices:
    """What the actor may pick in the Организация and Роль selects: (id, name) and (role, title)."""

    organizations: tuple[tuple[int, str], ...]
    roles: tuple[tuple[Role, str], ...]


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
        return IssuingChoices(
            organizations=tuple((org.id, org.name) for org in issuable_organizations(db, actor)),
            roles=tuple((role, role_title(role)) for role in offerable_roles(db, actor)),
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
