from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext
from bridge.services.errors import DomainError
from bridge.services.organizations import NewOrganization, create_organization, list_organizations
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent
from tests.services.directory import row_counts

SUPPORT = AuditContext(actor="cli:support")


def test_a_department_and_its_school(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        department = create_organization(
            db, SUPPORT, NewOrganization("УО Дзержинского района", "education_department", district="Дзержинский",
                                         inn="7707083893", ogrn="1027700132195"),
        )
        school = create_organization(db, SUPPORT, NewOrganization("Школа № 1", "school", parent_id=department.id))
        assert school.district == "Дзержинский"
    with db_factory() as db:
        assert [org.name for org in list_organizations(db, parent_id=department.id)] == ["Школа № 1"]
        assert len(list_organizations(db, district="Дзержинский")) == 2
        assert [event.event for event in db.scalars(select(AuditEvent))] == ["organization.created"] * 2


@pytest.mark.parametrize(
    ("new", "code"),
    [
        (NewOrganization("", "school"), "organization_name_required"),
        (NewOrganization("Школа", "factory"), "unknown_organization_kind"),
        (NewOrganization("Школа", "school", inn="7707083894"), "invalid_inn"),
        (NewOrganization("Школа", "school", ogrn="1027700132196"), "invalid_ogrn"),
        (NewOrganization("Школа", "school", parent_id=999), "unknown_organization"),
    ],
)
def test_bad_organizations_are_refused(db_factory: sessionmaker[Session], new: NewOrganization, code: str) -> None:
    before = row_counts(db_factory)
    with pytest.raises(DomainError) as refused, transaction(db_factory) as db:
        create_organization(db, SUPPORT, new)
    assert refused.value.code == code
    assert row_counts(db_factory) == before


def test_a_school_cannot_be_the_parent(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        school = create_organization(db, SUPPORT, NewOrganization("Школа", "school"))
    with pytest.raises(DomainError) as refused, transaction(db_factory) as db:
        create_organization(db, SUPPORT, NewOrganization("Школа 2", "school", parent_id=school.id))
    assert refused.value.code == "invalid_parent"


def test_inn_is_unique(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        create_organization(db, SUPPORT, NewOrganization("Школа", "school", inn="7707083893"))
    with pytest.raises(DomainError) as refused, transaction(db_factory) as db:
        create_organization(db, SUPPORT, NewOrganization("Школа 2", "school", inn="7707 083 893"))
    assert refused.value.code == "duplicate_inn"
