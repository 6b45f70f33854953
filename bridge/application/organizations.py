"""The organizations of the directory: technical support adds them; anyone acting may list them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_cli_support, resolve
from bridge.application.unit_of_work import unit_of_work
from bridge.services import organizations
from bridge.services.organizations import NewOrganization
from bridge.services.roles import ORGANIZATION_KIND_TITLES, OrganizationKind
from bridge.storage.enums import RegistryStatus
from bridge.storage.models import Organization

__all__ = ["NewOrganization", "OrganizationView", "create_organization", "list_organizations"]


@dataclass(frozen=True)
class OrganizationView:
    id: int
    name: str
    kind: OrganizationKind
    district: str | None
    inn: str | None
    ogrn: str | None
    # The education department above it.
    parent_id: int | None
    registry_status: RegistryStatus

    @property
    def kind_title(self) -> str:
        return ORGANIZATION_KIND_TITLES[self.kind]

    @property
    def in_registry(self) -> bool:
        return self.registry_status == RegistryStatus.ACTIVE


def _view(organization: Organization) -> OrganizationView:
    return OrganizationView(
        id=organization.id, name=organization.name, kind=organization.kind, district=organization.district,
        inn=organization.inn, ogrn=organization.ogrn, parent_id=organization.parent_id,
        registry_status=organization.registry_status,
    )


def create_organization(
    database: sessionmaker[Session], principal: Principal, new: NewOrganization
) -> OrganizationView:
    """`bridge org add`: technical support only (no role in the hierarchy creates organizations)."""
    context = audit_context_of(principal)
    with unit_of_work(database, context, "organization.create", kind=new.kind) as db:
        require_cli_support(
            principal, "Организации заводит техническая поддержка: выполните команду без --acting-as."
        )
        return _view(organizations.create_organization(db, context, new))


def list_organizations(
    database: sessionmaker[Session], principal: Principal, *, parent_id: int | None = None,
    district: str | None = None,
) -> tuple[OrganizationView, ...]:
    with database() as db:
        resolve(db, principal)  # an unknown or blocked --acting-as is refused here as everywhere
        found = organizations.list_organizations(db, parent_id=parent_id, district=district)
        return tuple(_view(organization) for organization in found)
