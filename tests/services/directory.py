"""A small directory shared by the administration tests: two districts, their schools, their staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.roles import OrganizationKind, Role
from bridge.storage.models import Base, Organization
from tests.support.factories import give_role, make_organization, make_staff

# A valid СНИЛС: 112-233-445 95.
VALID_SNILS = "11223344595"


@dataclass(frozen=True)
class Directory:
    """Organization ids by short name and logins of the administrators acting in them."""

    orgs: dict[str, int]
    logins: dict[str, str]


def build_directory(factory: sessionmaker[Session]) -> Directory:
    with factory() as db, db.begin():
        support = make_organization(db, name="Техподдержка", kind=OrganizationKind.SUPPORT, district="")
        dept_a = make_organization(
            db, name="Управление образования Дзержинского района",
            kind=OrganizationKind.EDUCATION_DEPARTMENT, district="Дзержинский",
        )
        dept_b = make_organization(
            db, name="Управление образования Ленинского района",
            kind=OrganizationKind.EDUCATION_DEPARTMENT, district="Ленинский",
        )
        preschool = make_organization(
            db, name="Управление дошкольного образования", kind=OrganizationKind.PRESCHOOL_DEPARTMENT,
            district="Дзержинский",
        )
        dept_excluded = make_organization(
            db, name="Упразднённое управление", kind=OrganizationKind.EDUCATION_DEPARTMENT, district="Старый"
        )
        dept_excluded.registry_status = "excluded"
        school_a = make_organization(db, name="Тестовая школа", parent=dept_a)
        school_a2 = make_organization(db, name="Школа № 2", parent=dept_a)
        college_a = make_organization(db, name="Колледж связи", kind=OrganizationKind.COLLEGE, parent=dept_a)
        kindergarten_a = make_organization(
            db, name="Детский сад «Ромашка»", kind=OrganizationKind.KINDERGARTEN, parent=dept_a
        )
        kindergarten_p = make_organization(
            db, name="Детский сад «Берёзка»", kind=OrganizationKind.KINDERGARTEN, parent=preschool
        )
        school_b = make_organization(db, name="Ленинская школа", parent=dept_b, district="Ленинский")
        school_excluded = make_organization(db, name="Закрытая школа", parent=dept_a)
        school_excluded.registry_status = "excluded"
        school_under_excluded = make_organization(db, name="Школа старого района", parent=dept_excluded)
        orgs = {
            "support": support, "dept_a": dept_a, "dept_b": dept_b, "preschool": preschool,
            "dept_excluded": dept_excluded, "school_a": school_a, "school_a2": school_a2,
            "college_a": college_a, "kindergarten_a": kindergarten_a, "kindergarten_p": kindergarten_p,
            "school_b": school_b, "school_excluded": school_excluded,
            "school_under_excluded": school_under_excluded,
        }
        admins = {
            "support_staff": ("support", Role.SUPPORT),
            "dept_a": ("dept_a", Role.EDUCATION_DEPARTMENT),
            "preschool": ("preschool", Role.PRESCHOOL_DEPARTMENT),
            "dept_excluded": ("dept_excluded", Role.EDUCATION_DEPARTMENT),
            "director_a": ("school_a", Role.SCHOOL_DIRECTOR),
            "college_director": ("college_a", Role.COLLEGE_DIRECTOR),
            "kindergarten_head": ("kindergarten_a", Role.KINDERGARTEN_HEAD),
            "deputy_a": ("school_a", Role.SCHOOL_DEPUTY),
        }
        logins: dict[str, str] = {}
        for number, (key, (org_key, role)) in enumerate(admins.items()):
            staff = make_staff(db, surname=f"Админов{number}", name="Админ", login=f"admin_{key}")
            give_role(db, staff, orgs[org_key], role, start=date.today() - timedelta(days=30))
            logins[key] = staff.login
        return Directory(orgs={key: org.id for key, org in orgs.items()}, logins=logins)


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows per table, to show that a refusal left the database as it was (audit aside)."""
    with factory() as db:
        return {
            table.name: int(db.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if not table.name.startswith("audit_")
        }


def organization_name(factory: sessionmaker[Session], organization_id: int) -> str:
    with factory() as db:
        organization = db.get(Organization, organization_id)
        assert organization is not None
        return organization.name
