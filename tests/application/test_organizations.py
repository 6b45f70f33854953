"""create_organization and list_organizations: only technical support adds organizations."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.organizations import NewOrganization, create_organization, list_organizations
from bridge.application.principals import ActingAs
from bridge.services.errors import DomainError
from bridge.services.roles import OrganizationKind
from bridge.storage.enums import RegistryStatus
from tests.application.conftest import SUPPORT, as_, refusals
from tests.services.directory import Directory


def test_support_adds_a_school_under_a_department(db_factory: sessionmaker[Session], directory: Directory) -> None:
    school = create_organization(
        db_factory, SUPPORT, NewOrganization("Школа № 3", "school", parent_id=directory.orgs["dept_a"])
    )
    assert (school.kind, school.kind_title, school.district) == (OrganizationKind.SCHOOL, "Школа", "Дзержинский")
    assert school.registry_status == RegistryStatus.ACTIVE and school.in_registry
    listed = list_organizations(db_factory, as_(directory, "director_a"), parent_id=directory.orgs["dept_a"])
    assert "Школа № 3" in [organization.name for organization in listed]
    excluded = [org for org in list_organizations(db_factory, SUPPORT) if not org.in_registry]
    assert {org.name for org in excluded} == {"Упразднённое управление", "Закрытая школа"}


def test_no_one_acting_as_staff_adds_organizations(db_factory: sessionmaker[Session], directory: Directory) -> None:
    with pytest.raises(DomainError) as refused:
        create_organization(db_factory, as_(directory, "dept_a"), NewOrganization("Школа", "school"))
    assert refused.value.code == "support_only"
    assert refusals(db_factory) == [("organization.create", "support_only")]
    with pytest.raises(DomainError) as ghost:
        list_organizations(db_factory, ActingAs("ghost"))
    assert ghost.value.code == "unknown_actor"
