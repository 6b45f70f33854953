"""«Сотрудники» at district scale through HTTP: the search kept out of URLs, pages, export, import."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, Organization, StaffMember
from tests.routes.test_admin import _csrf, _sign_in_as
from tests.services.directory import VALID_SNILS, build_directory, row_counts
from tests.support.factories import give_role, make_staff


def _deputy_with_snils(db_factory: sessionmaker[Session], school_id: int) -> None:
    with transaction(db_factory) as db:
        school = db.get(Organization, school_id)
        assert school is not None
        person = make_staff(db, surname="Семёнова", name="Ольга", login="semenova_o", snils=VALID_SNILS)
        give_role(db, person, school, Role.SCHOOL_DEPUTY)


def test_a_snils_search_answers_through_a_redirect_whose_url_holds_no_snils(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette
) -> None:
    directory = build_directory(db_factory)
    _deputy_with_snils(db_factory, directory.orgs["school_a"])
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    token = _csrf(client, "/admin/staff")
    posted = client.post(
        "/admin/staff-search", data={"csrf_token": token, "q": "112-233-445 95", "size": "25"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert re.sub(r"\D", "", location).find("11223344595") == -1 and "445" not in location
    page = client.get(location)
    assert page.status_code == 200
    assert "semenova_o" in page.text and directory.logins["deputy_a"] not in page.text
    assert "Найдено: 1" in page.text

    # Another administrator signing in in the same browser does not get the search either.
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    assert "Поиск устарел" in client.get(location).text
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    assert "Найдено: 1" in client.get(location).text

    # The search id means nothing in another browser, even for the same administrator.
    other = TestClient(app, base_url="https://testserver")
    _sign_in_as(other, settings, db_factory, directory.logins["director_a"])
    stale = other.get(location)
    assert "Поиск устарел" in stale.text
    assert "semenova_o" not in stale.text or directory.logins["deputy_a"] in stale.text


def test_a_bad_filter_is_a_russian_message_not_an_error_page(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    for query in ({"role": "astronaut"}, {"org": str(directory.orgs["school_b"])}, {"page": "x"}, {"size": "7"}):
        response = client.get("/admin/staff", params=query)
        assert response.status_code == 400, query
        assert 'class="alert error"' in response.text
    response = client.get("/admin/staff", params={"org": str(directory.orgs["school_a"])})
    assert response.status_code == 200
    assert directory.logins["director_a"] in response.text
    assert directory.logins["college_director"] not in response.text


def test_the_export_downloads_the_filter_and_is_audited(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    token = _csrf(client, "/admin/staff")
    response = client.post(
        "/admin/staff-export", data={"csrf_token": token, "format": "csv", "role": "school_director"}
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="staff-')
    text = response.content.decode("utf-8-sig")
    assert text.startswith("ФИО;Логин;СНИЛС")
    assert directory.logins["director_a"] in text and directory.logins["college_director"] not in text
    xlsx = client.post("/admin/staff-export", data={"csrf_token": token, "format": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    assert client.post("/admin/staff-export", data={"format": "csv"}).status_code == 403  # no CSRF token
    with db_factory() as db:
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.event == "staff.exported")))
    assert [event.details["role"] for event in events] == ["school_director", None]


def test_an_import_is_checked_then_confirmed_once(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    school = directory.orgs["school_a"]
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    token = _csrf(client, "/admin/staff-import")
    bad = f"Фамилия;Имя;Организация;Роль\r\nГромов;Илья;{school};Завуч школы\r\nНет;Орг;999999;Завуч школы\r\n"
    before = row_counts(db_factory)
    checked = client.post(
        "/admin/staff-import", data={"csrf_token": token},
        files={"file": ("staff.csv", bad.encode(), "text/csv")},
    )
    assert checked.status_code == 400
    assert "строк с ошибками — 1 из 2" in checked.text and "Организация «999999» не найдена" in checked.text
    assert 'name="import_id"' not in checked.text
    assert row_counts(db_factory) == before

    good = f"Фамилия;Имя;Организация;Роль\r\nГромов;Илья;{school};Завуч школы\r\n"
    checked = client.post(
        "/admin/staff-import", data={"csrf_token": token},
        files={"file": ("staff.csv", good.encode(), "text/csv")},
    )
    assert checked.status_code == 200
    match = re.search(r'name="import_id" value="([^"]+)"', checked.text)
    assert match is not None
    confirmed = client.post(
        "/admin/staff-import/confirm", data={"csrf_token": token, "import_id": match.group(1)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert "Загружено сотрудников: 1" in client.get(confirmed.headers["location"]).text
    again = client.post("/admin/staff-import/confirm", data={"csrf_token": token, "import_id": match.group(1)})
    assert again.status_code == 400
    assert "уже загружена или устарела" in again.text
    with db_factory() as db:
        assert db.scalar(select(StaffMember.login).where(StaffMember.surname == "Громов")) is not None
        assert len(list(db.scalars(select(StaffMember).where(StaffMember.surname == "Громов")))) == 1
