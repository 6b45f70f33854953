"""The staff list at district scale: whom it shows (the card's rule, as SQL), filters, search, pages, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import ActingAs
from bridge.application.staff_directory import StaffFilter, export_staff, list_staff
from bridge.services.actors import actor_for_login, cli_support_actor
from bridge.services.errors import InvalidInput, PermissionDenied
from bridge.services.hierarchy import manages_any
from bridge.services.roles import Role
from bridge.services.staff_export import HEADERS, ExportFormat
from bridge.services.staff_lifecycle import remove_personal_data
from bridge.services.staff_search import BindingFilter, StaffStatus
from bridge.storage.database import transaction
from bridge.storage.models import ExternalBinding, Organization, StaffMember
from bridge.storage.types import utcnow
from tests.application.conftest import SUPPORT, as_, audit
from tests.services.directory import VALID_SNILS, Directory
from tests.support.factories import give_role, make_staff

ADMINS = (
    "dept_a", "preschool", "dept_excluded", "director_a", "college_director", "kindergarten_head", "support_staff",
)


def _logins(factory: sessionmaker[Session], principal: ActingAs, wanted: StaffFilter | None = None) -> list[str]:
    page = list_staff(factory, principal, wanted or StaffFilter(), page_size=200)
    return [row.login for row in page.rows]


def test_the_list_shows_exactly_whose_card_the_administrator_may_open(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    """The SQL rule and the card's rule (`manages_any`) agree for every administrator of the directory."""
    with db_factory() as db:
        people = list(db.scalars(select(StaffMember)))
        for key in ADMINS:
            actor = actor_for_login(db, directory.logins[key])
            expected = {person.login for person in people if manages_any(db, actor, person.roles)}
            assert set(_logins(db_factory, as_(directory, key))) == expected, key
        everyone = {person.login for person in people}
        assert cli_support_actor().is_cli_support
    assert set(_logins(db_factory, SUPPORT)) == everyone


def test_filters_narrow_the_list_and_an_organization_outside_the_subtree_is_refused(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a2"])
        assert school is not None
        waiting = make_staff(db, surname="Ждущий", login="waiting", password="x" * 12)
        give_role(db, waiting, school, Role.SCHOOL_DIRECTOR)
        bound = make_staff(db, surname="Привязанный", login="bound")
        give_role(db, bound, school, Role.SCHOOL_DIRECTOR)
        db.add(ExternalBinding(staff_id=bound.id, provider="esia", issuer="https://esia", subject="1", flow="x"))
        blocked = make_staff(db, surname="Заблокированный", login="blocked")
        blocked.status = StaffStatus.BLOCKED
        give_role(db, blocked, school, Role.SCHOOL_DIRECTOR)
    dept = as_(directory, "dept_a")
    in_school = StaffFilter(organization_id=directory.orgs["school_a2"])
    assert sorted(_logins(db_factory, dept, in_school)) == ["blocked", "bound", "waiting"]
    assert _logins(db_factory, dept, StaffFilter(organization_id=directory.orgs["school_a2"], awaiting=True)) == [
        "waiting"
    ]
    assert _logins(db_factory, dept, StaffFilter(binding=BindingFilter.BOUND)) == ["bound"]
    assert _logins(db_factory, dept, StaffFilter(status=StaffStatus.BLOCKED)) == ["blocked"]
    assert _logins(db_factory, dept, StaffFilter(role=Role.COLLEGE_DIRECTOR)) == [directory.logins["college_director"]]
    with pytest.raises(PermissionDenied) as outside:
        list_staff(db_factory, dept, StaffFilter(organization_id=directory.orgs["school_b"]))
    assert outside.value.code == "organization_not_overseen"


def test_the_search_takes_a_snils_with_or_without_dashes_a_login_or_a_name(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        person = make_staff(db, surname="Семёнова", name="Ольга", login="semenova_o", snils=VALID_SNILS)
        give_role(db, person, school, Role.SCHOOL_DEPUTY)
        other = make_staff(db, surname="Семенов", name="Пётр", login="semenov")
        give_role(db, other, school, Role.SCHOOL_DEPUTY)
    director = as_(directory, "director_a")
    for typed in ("112-233-445 95", "11223344595", " 112 233 445 95 "):
        assert _logins(db_factory, director, StaffFilter(search=typed)) == ["semenova_o"], typed
    assert _logins(db_factory, director, StaffFilter(search="semenova")) == ["semenova_o"]
    assert _logins(db_factory, director, StaffFilter(search="SEMENOV")) == ["semenov", "semenova_o"]
    assert _logins(db_factory, director, StaffFilter(search="семенова ольга")) == ["semenova_o"]
    assert _logins(db_factory, director, StaffFilter(search="СЕМЁН")) == ["semenov", "semenova_o"]
    with pytest.raises(InvalidInput) as bad:
        list_staff(db_factory, director, StaffFilter(search="112-233-445 96"))
    assert bad.value.code == "invalid_snils"
    # Someone outside the subtree is not found by their СНИЛС either.
    assert _logins(db_factory, as_(directory, "preschool"), StaffFilter(search=VALID_SNILS)) == []


def test_pages_are_stable_and_a_page_past_the_end_is_the_last(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        for number in range(60):
            # Many share a name: the id breaks the tie, so no one is on two pages or on none.
            person = make_staff(db, surname="Одинаков", name=f"Имя{number % 3}", login=f"same{number:02d}")
            give_role(db, person, school, Role.SCHOOL_DEPUTY)
    director = as_(directory, "director_a")
    pages = [list_staff(db_factory, director, StaffFilter(), page=number, page_size=25) for number in (1, 2, 3)]
    seen = [row.login for page in pages for row in page.rows]
    assert len(seen) == len(set(seen)) == pages[0].total == 61
    assert pages[2].pages == 3
    assert list_staff(db_factory, director, StaffFilter(), page=99, page_size=25).page == 3
    with pytest.raises(InvalidInput):
        list_staff(db_factory, director, StaffFilter(), page_size=7)

    # «Дальше» and «Назад» go by a page's edge: the same pages as counting from the start.
    walked, page = [], list_staff(db_factory, director, StaffFilter(), page_size=25)
    while True:
        walked.append([row.login for row in page.rows])
        if not page.has_next:
            break
        assert page.last_id is not None
        page = list_staff(db_factory, director, StaffFilter(), page_size=25, page=page.page + 1, after=page.last_id)
    assert walked == [[row.login for row in numbered.rows] for numbered in pages]
    assert page.first_id is not None
    back = list_staff(db_factory, director, StaffFilter(), page_size=25, page=2, before=page.first_id)
    assert [row.login for row in back.rows] == walked[1] and back.has_previous and back.has_next
    first = list_staff(db_factory, director, StaffFilter(), page_size=25, page=1, before=back.rows[0].id)
    assert [row.login for row in first.rows] == walked[0] and not first.has_previous

    # A district is not counted row by row: past the cap the list says «более …».
    capped = list_staff(db_factory, director, StaffFilter(), page_size=25, count_cap=30)
    assert capped.total_capped and capped.total_text == "более 30" and capped.pages is None
    assert capped.has_next


def test_an_export_is_the_filter_as_a_file_and_is_audited_without_the_searched_text(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        person = make_staff(db, surname="=Формула", name="Ольга", login="formula", snils=VALID_SNILS)
        person.created_at = utcnow() - timedelta(days=1)
        give_role(db, person, school, Role.SCHOOL_DEPUTY)
    director = as_(directory, "director_a")
    exported = export_staff(db_factory, director, StaffFilter(), ExportFormat.CSV, max_rows=100)
    text = exported.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert tuple(rows[0]) == HEADERS
    assert exported.rows == len(rows) - 1 == 2
    assert "'=Формула Ольга Петровна" in text  # a name that looks like a formula stays text
    assert "112-233-445 95" in text
    by_snils = export_staff(db_factory, director, StaffFilter(search=VALID_SNILS), ExportFormat.XLSX, max_rows=100)
    sheet = load_workbook(io.BytesIO(by_snils.content)).active
    assert sheet is not None
    assert [cell.value for cell in sheet[1]] == list(HEADERS)
    assert sheet.max_row == 2
    records = [event for event in audit(db_factory) if event.event == "staff.exported"]
    assert [(record.details["format"], record.details["rows"]) for record in records] == [("csv", 2), ("xlsx", 1)]
    assert records[1].details["search"] == "snils"
    assert VALID_SNILS not in str(records[1].details)
    assert records[0].actor == directory.logins["director_a"]


def test_an_export_larger_than_the_limit_is_refused_before_any_row_is_written(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with pytest.raises(InvalidInput) as refused:
        export_staff(db_factory, SUPPORT, StaffFilter(), ExportFormat.XLSX, max_rows=3)
    assert refused.value.code == "export_too_large"
    assert [event.event for event in audit(db_factory)] == ["issuance.refused"]
    assert audit(db_factory)[0].details["operation"] == "staff.export"


def test_the_name_key_follows_an_edit_and_goes_with_the_personal_data(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        person = make_staff(db, surname="Ёлкина", name="Анна", login="yolkina")
        assert person.search_name == "елкина анна петровна"
        person.surname = "Новикова"
    with transaction(db_factory) as db:
        person = db.scalars(select(StaffMember).where(StaffMember.login == "yolkina")).one()
        assert person.search_name == "новикова анна петровна"
        person.status = StaffStatus.DEACTIVATED
        person.deactivated_at = utcnow()
        db.flush()
        assert remove_personal_data(db, person.id) is not None
    with db_factory() as db:
        assert db.scalar(select(StaffMember.search_name).where(StaffMember.login == "yolkina")) == ""
