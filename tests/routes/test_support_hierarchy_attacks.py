"""Attacks on the top of the hierarchy through the pages: a technical support account tries every
path that could give a support role or take over another support account. Only the operator at
the command line issues support (hierarchy._issued_by); each refusal leaves the database as it was,
and a control beside it shows the same form does work where support has the power."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.roles import Role
from bridge.services.support_queue import CannotSignInForm, file_cannot_sign_in
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.models import Organization, RoleAssignment, StaffMember, SupportRequest
from tests.routes.test_admin import _csrf, _sign_in_as
from tests.services.directory import Directory, build_directory, row_counts
from tests.support.factories import give_role, make_staff


def _second_supports(db_factory: sessionmaker[Session], directory: Directory) -> tuple[int, int]:
    """Another support account, and one holding support and a department role support issues."""
    with transaction(db_factory) as db:
        support = db.get(Organization, directory.orgs["support"])
        dept_b = db.get(Organization, directory.orgs["dept_b"])
        assert support is not None and dept_b is not None
        two = make_staff(db, surname="Вторая", name="Поддержка", login="support_two")
        support_role = give_role(db, two, support, Role.SUPPORT)
        mixed = make_staff(db, surname="Смешанный", name="Админ", login="support_mixed")
        give_role(db, mixed, support, Role.SUPPORT)
        give_role(db, mixed, dept_b, Role.EDUCATION_DEPARTMENT)
        return support_role.id, mixed.id


def _support_roles(db_factory: sessionmaker[Session]) -> list[tuple[int, date, date | None]]:
    with db_factory() as db:
        return [
            (row.staff_id, row.start_date, row.end_date)
            for row in db.scalars(select(RoleAssignment).where(RoleAssignment.role == Role.SUPPORT))
        ]


def _status(db_factory: sessionmaker[Session], login: str) -> StaffStatus:
    with db_factory() as db:
        return db.scalars(select(StaffMember.status).where(StaffMember.login == login)).one()


def _new_person(directory: Directory, csrf: str, organization: str, role: str) -> dict[str, str]:
    return {
        "csrf_token": csrf, "organization_id": str(directory.orgs[organization]), "role": role,
        "start_date": "2024-09-01", "end_date": "", "surname": "Новый", "name": "Пётр", "patronymic": "",
        "no_patronymic": "1", "snils": "", "note": "", "action": "save",
    }


def test_support_on_the_pages_cannot_issue_a_support_role_by_the_form_add_role_or_import(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _second_supports(db_factory, directory)
    _sign_in_as(client, settings, db_factory, directory.logins["support_staff"])
    csrf = _csrf(client, "/admin/staff/new")
    assert 'value="support"' not in client.get("/admin/staff/new").text
    before, supports = row_counts(db_factory), _support_roles(db_factory)

    posted = client.post("/admin/staff/new", data=_new_person(directory, csrf, "support", "support"),
                         follow_redirects=False)
    assert posted.status_code in (400, 403), posted.status_code
    grant = {"csrf_token": csrf, "organization_id": str(directory.orgs["support"]), "role": "support",
             "start_date": "2024-09-01", "end_date": ""}
    for login in (directory.logins["dept_a"], "support_mixed"):
        added = client.post(f"/admin/staff/{login}/roles", data=grant, follow_redirects=False)
        assert added.status_code in (400, 403, 404), (login, added.status_code)
    sheet = f"Фамилия;Имя;Организация;Роль\r\nГромов;Илья;{directory.orgs['support']};Техническая поддержка\r\n"
    checked = client.post("/admin/staff-import", data={"csrf_token": _csrf(client, "/admin/staff-import")},
                          files={"file": ("staff.csv", sheet.encode(), "text/csv")})
    assert checked.status_code == 400 and 'name="import_id"' not in checked.text
    assert row_counts(db_factory) == before and _support_roles(db_factory) == supports

    # Control: the same form issues what support does issue (a department role).
    made = client.post("/admin/staff/new", data=_new_person(directory, csrf, "dept_b", "education_department"),
                       follow_redirects=False)
    assert made.status_code == 303, made.text[:500]


def test_support_on_the_pages_cannot_block_reset_or_redate_another_support_account(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    role_id, _ = _second_supports(db_factory, directory)
    _sign_in_as(client, settings, db_factory, directory.logins["support_staff"])
    csrf = _csrf(client, "/admin/staff/new")
    before, supports = row_counts(db_factory), _support_roles(db_factory)
    for login in ("support_two", "support_mixed"):
        blocked = client.post(f"/admin/staff/{login}/block", data={"csrf_token": csrf, "reason": "захват"},
                              follow_redirects=False)
        assert blocked.status_code in (400, 403, 404), (login, blocked.status_code)
        deactivated = client.post(f"/admin/staff/{login}/deactivate", data={"csrf_token": csrf, "reason": "x"},
                                  follow_redirects=False)
        assert deactivated.status_code in (400, 403, 404), (login, deactivated.status_code)
        reset = client.post(f"/admin/staff/{login}/reset-password", data={"csrf_token": csrf},
                            follow_redirects=False)
        assert reset.status_code in (400, 403, 404), (login, reset.status_code)
        assert _status(db_factory, login) == StaffStatus.ACTIVE
    redated = client.post(f"/admin/staff/support_two/roles/{role_id}/dates",
                          data={"csrf_token": csrf, "start_date": "2020-01-01", "new_end_date": "2030-01-01"},
                          follow_redirects=False)
    assert redated.status_code in (400, 403, 404), redated.status_code
    ended = client.post(f"/admin/staff/support_two/roles/{role_id}/end",
                        data={"csrf_token": csrf, "end_date": "2024-01-01"}, follow_redirects=False)
    assert ended.status_code in (400, 403, 404), ended.status_code
    assert row_counts(db_factory) == before and _support_roles(db_factory) == supports

    # Control: the same block form works on a department head support is above.
    dept = directory.logins["dept_a"]
    blocked = client.post(f"/admin/staff/{dept}/block", data={"csrf_token": csrf, "reason": "проверка"},
                          follow_redirects=False)
    assert blocked.status_code == 303 and _status(db_factory, dept) == StaffStatus.BLOCKED


def test_support_resolving_its_queue_cannot_reset_or_deactivate_another_support_account(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    """A «Не могу войти» item names a support account (anyone may file one): resolving it with a
    password reset or a deactivation runs the use case's own rule, which refuses; the item reopens."""
    directory = build_directory(db_factory)
    _second_supports(db_factory, directory)
    with transaction(db_factory) as db:
        item = file_cannot_sign_in(db, CannotSignInForm("Вторая Поддержка", "Поддержка", "two@support.test", "…"),
                                   "192.0.2.7")
        item_id = item.id
    _sign_in_as(client, settings, db_factory, directory.logins["support_staff"])
    csrf = _csrf(client, f"/support/queue/{item_id}")
    before, supports = row_counts(db_factory), _support_roles(db_factory)
    for login in ("support_two", "support_mixed"):
        for outcome in ("password_reset", "activation_resent"):
            answer = client.post(f"/support/queue/{item_id}/resolve",
                                 data={"csrf_token": csrf, "outcome": outcome, "login": login, "confirmed": "1"},
                                 follow_redirects=False)
            assert answer.status_code in (400, 403, 404), (login, outcome, answer.status_code)
            assert _status(db_factory, login) == StaffStatus.ACTIVE
    with db_factory() as db:
        reopened = db.get(SupportRequest, item_id)
        assert reopened is not None and reopened.closed_at is None
    assert row_counts(db_factory) == before and _support_roles(db_factory) == supports
    # Control: the same resolution resets the password of a department head support is above.
    done = client.post(f"/support/queue/{item_id}/resolve",
                       data={"csrf_token": csrf, "outcome": "password_reset", "login": directory.logins["dept_a"],
                             "confirmed": "1"}, follow_redirects=False)
    assert done.status_code in (200, 303), done.status_code
    with db_factory() as db:
        closed = db.get(SupportRequest, item_id)
        assert closed is not None and closed.closed_at is not None
