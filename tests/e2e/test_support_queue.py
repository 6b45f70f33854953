"""Support's queue through HTTP: the public «Не могу войти» form, a deactivation request from the
cabinet, and support resolving both with the existing use cases (pages and CLI alike).

The form is attacked like the registration form: it is throttled per address before anything is
written, and its answer is the same whether the person has an account or not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.enums import StaffStatus
from bridge.storage.models import AuditEvent, ExternalBinding, OutgoingMail, StaffMember, SupportRequest
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = "/support/cannot-sign-in"


def csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match is not None, path
    return match.group(1)


def file_request(client: TestClient, **values: str) -> Any:
    data = {"full_name": "Админов1 Админ Петровна", "organization": "Управление образования",
            "email": "asker@mail.test", "message": "Госуслуги пишут, что учётная запись привязана к другому"}
    data.update(values)
    return client.post(FORM, data={"csrf_token": csrf(client, FORM), **data}, follow_redirects=False)


def sign_in(client: TestClient, settings: Settings, factory: sessionmaker[Session], login: str) -> None:
    client.cookies.clear()
    with factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        staff_id, role = staff.id, staff.roles[0]
        db.expunge_all()
    sign_in_browser(client, settings, factory, staff_id, role)


def items(factory: sessionmaker[Session]) -> list[SupportRequest]:
    with factory() as db:
        found = list(db.scalars(select(SupportRequest).order_by(SupportRequest.id)))
        db.expunge_all()
        return found


def letters(factory: sessionmaker[Session], kind: str) -> list[str]:
    with factory() as db:
        return list(db.scalars(select(OutgoingMail.recipient).where(OutgoingMail.kind == kind)))


def events(factory: sessionmaker[Session], name: str) -> list[dict[str, Any]]:
    with factory() as db:
        return [event.details for event in db.scalars(select(AuditEvent).where(AuditEvent.event == name))]


def test_the_public_form_files_a_request_and_answers_alike_for_anyone(
    client: TestClient, db_factory: sessionmaker[Session]
) -> None:
    build_directory(db_factory)
    page = client.get(FORM)
    assert page.status_code == 200 and "Не могу войти" in page.text
    known = file_request(client)
    unknown = file_request(client, full_name="Никто Никакой", email="nobody@mail.test")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"] == "/support/cannot-sign-in/sent"
    assert "Обращение отправлено" in client.get(known.headers["location"]).text
    assert [(item.kind, item.email) for item in items(db_factory)] == [
        ("cannot_sign_in", "asker@mail.test"), ("cannot_sign_in", "nobody@mail.test"),
    ]
    # The audit log holds the item's number, never what was typed.
    filed = events(db_factory, "support.request_filed")
    assert all(set(details) - {"request_id"} == {"support_request_id", "kind"} for details in filed)


def test_bad_input_is_refused_in_russian_and_files_nothing(
    client: TestClient, db_factory: sessionmaker[Session]
) -> None:
    refused = file_request(client, email="not-an-address")
    assert refused.status_code == 400 and "Адрес электронной почты указан неверно" in refused.text
    assert "Админов1 Админ Петровна" in refused.text
    assert file_request(client, message="   ").status_code == 400
    assert items(db_factory) == []


def test_the_public_form_is_throttled_per_address(client: TestClient, db_factory: sessionmaker[Session]) -> None:
    answers = [file_request(client, email=f"person{number}@mail.test").status_code for number in range(4)]
    assert answers == [303, 303, 303, 429]
    assert "Слишком много заявок" in file_request(client).text
    assert len(items(db_factory)) == 3
    assert [details["form"] for details in events(db_factory, "request.throttled")] == ["support", "support"]


def test_only_support_sees_the_queue(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    assert client.get("/support/queue", follow_redirects=False).status_code == 303
    sign_in(client, settings, db_factory, directory.logins["dept_a"])
    refused = client.get("/support/queue")
    assert refused.status_code == 403 and "техническая поддержка" in refused.text
    assert 'href="/support/queue"' not in client.get("/admin/staff").text
    sign_in(client, settings, db_factory, directory.logins["support_staff"])
    assert client.get("/support/queue").status_code == 200
    # Support finds the queue from every administration page.
    assert 'href="/support/queue"' in client.get("/admin/staff").text


def _deactivation_requested(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> int:
    person = directory.logins["dept_a"]
    with db_factory() as db, db.begin():
        staff = db.scalars(select(StaffMember).where(StaffMember.login == person)).one()
        staff.email = "dept@mail.test"
        db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test", subject="dept",
                               flow="local_first"))
    sign_in(client, settings, db_factory, person)
    confirm = client.get("/cabinet/deactivation")
    assert "Попросить отключить кабинет?" in confirm.text
    done = client.post("/cabinet/deactivation", data={"csrf_token": csrf(client, "/cabinet/deactivation"),
                                                      "reason": "Ухожу на пенсию"})
    assert done.url.path == "/cabinet" and "Просьба отключить кабинет отправлена" in done.text
    # A second press files nothing new: the request waits.
    client.post("/cabinet/deactivation", data={"csrf_token": csrf(client, "/cabinet/deactivation")})
    [item] = items(db_factory)
    assert (item.kind, item.email, item.message) == ("deactivation", "dept@mail.test", "Ухожу на пенсию")
    return item.id


def test_support_deactivates_at_the_persons_request_after_a_confirmation(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    item_id = _deactivation_requested(client, settings, db_factory, directory)
    sign_in(client, settings, db_factory, directory.logins["support_staff"])
    queue = client.get("/support/queue")
    assert f"№{item_id}" in queue.text and "Отключить мой кабинет" in queue.text
    page = client.get(f"/support/queue/{item_id}")
    assert directory.logins["dept_a"] in page.text and "Ухожу на пенсию" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "outcome": "deactivated", "note": "Кабинет отключён по вашей просьбе"}
    confirm = client.post(f"/support/queue/{item_id}/resolve", data=form)
    assert confirm.status_code == 200 and "Отключить кабинет?" in confirm.text
    with db_factory() as db:
        assert db.scalars(select(StaffMember.status).where(StaffMember.login == directory.logins["dept_a"])).one() \
            == StaffStatus.ACTIVE
    done = client.post(f"/support/queue/{item_id}/resolve", data={**form, "confirmed": "1"})
    assert done.url.path == "/support/queue" and "Обращение закрыто" in done.text
    with db_factory() as db:
        assert db.scalars(select(StaffMember.status).where(StaffMember.login == directory.logins["dept_a"])).one() \
            == StaffStatus.DEACTIVATED
    [item] = items(db_factory)
    assert (item.outcome, item.closed_by) == ("deactivated", directory.logins["support_staff"])
    assert letters(db_factory, "support_outcome") == ["dept@mail.test"]
    assert letters(db_factory, "account_deactivated") == ["dept@mail.test"]
    # Closed once: a second resolution is refused.
    again = client.post(f"/support/queue/{item_id}/resolve", data={**form, "confirmed": "1"})
    assert again.status_code == 400 and "уже закрыто" in again.text


def test_support_answers_a_cannot_sign_in_request_and_the_person_is_mailed(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    file_request(client, full_name="Неизвестная Анна", email="anna@mail.test")
    [item] = items(db_factory)
    sign_in(client, settings, db_factory, directory.logins["support_staff"])
    page = client.get(f"/support/queue/{item.id}")
    assert "Похожих учётных записей не нашлось" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    empty = client.post(f"/support/queue/{item.id}/resolve",
                        data={"csrf_token": token.group(1), "outcome": "answered"})
    assert empty.status_code == 400 and "Напишите ответ" in empty.text
    done = client.post(f"/support/queue/{item.id}/resolve", data={
        "csrf_token": token.group(1), "outcome": "answered", "note": "Обратитесь к директору школы",
    })
    assert done.url.path == "/support/queue"
    assert letters(db_factory, "support_outcome") == ["anna@mail.test"]
    with db_factory() as db:
        body = db.scalars(select(OutgoingMail.text_body).where(OutgoingMail.kind == "support_outcome")).one()
    assert "Обратитесь к директору школы" in body and "Анна" in body


def test_support_resets_a_password_from_the_queue_and_sees_it_once(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    # The request names the department's administrator (Админов1 Админ), by e-mail.
    with db_factory() as db, db.begin():
        db.scalars(select(StaffMember).where(StaffMember.login == directory.logins["dept_a"])).one().email = \
            "asker@mail.test"
    file_request(client)
    [item] = items(db_factory)
    sign_in(client, settings, db_factory, directory.logins["support_staff"])
    page = client.get(f"/support/queue/{item.id}")
    assert directory.logins["dept_a"] in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "outcome": "password_reset", "login": directory.logins["dept_a"],
            "confirmed": "1"}
    slip = client.post(f"/support/queue/{item.id}/resolve", data=form)
    assert slip.status_code == 200 and "/password/" in str(slip.url)
    assert "Обращение закрыто" in slip.text and 'id="issued-password"' in slip.text
    assert "Пароль уже был показан" in client.get(str(slip.url)).text
    assert letters(db_factory, "support_outcome") == ["asker@mail.test"]


def test_the_cli_resolves_like_the_pages(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    bridge_cli: Callable[..., tuple[int, str, str]],
) -> None:
    directory = build_directory(db_factory)
    file_request(client, full_name="Неизвестная Анна", email="anna@mail.test")
    [item] = items(db_factory)
    code, out, _ = bridge_cli("--json", "support", "list")
    assert code == 0 and [entry["id"] for entry in json.loads(out)["support_requests"]] == [item.id]
    code, out, _ = bridge_cli("--json", "--acting-as", directory.logins["director_a"], "support", "list")
    assert code == 1 and json.loads(out)["error"] == "support_only"
    support = directory.logins["support_staff"]
    code, out, _ = bridge_cli("--json", "--acting-as", support, "support", "show", str(item.id))
    assert code == 0 and json.loads(out)["support_request"]["email"] == "anna@mail.test"
    code, out, _ = bridge_cli("--json", "support", "resolve", str(item.id), "--outcome", "answered",
                              "--note", "Обратитесь к директору")
    assert code == 0 and json.loads(out)["support_request"]["outcome"] == "answered"
    assert letters(db_factory, "support_outcome") == ["anna@mail.test"]
    code, out, _ = bridge_cli("--json", "support", "resolve", str(item.id), "--outcome", "answered", "--note", "x")
    assert code == 1 and json.loads(out)["error"] == "support_request_closed"
