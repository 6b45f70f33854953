"""The public «Заявка на подключение» pages, the «Заявки» pages and the activation page, over HTTP."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.registration_requests import RequestForm, submit_request
from bridge.storage.database import transaction
from bridge.storage.models import RegistrationRequest
from tests.routes.test_admin import _csrf, _sign_in_as
from tests.services.directory import Directory, build_directory
from tests.support.html_forms import read_forms


def _request_form(client: TestClient, directory: Directory, **changes: str) -> dict[str, str]:
    page = client.get(f"/register?organization={directory.orgs['school_a']}")
    assert page.status_code == 200 and "Тестовая школа" in page.text
    [form] = [form for form in read_forms(page.text) if form.method == "post"]
    values = {"surname": "Петрова", "name": "Мария", "patronymic": "Ивановна", "position": "Учитель",
              "email": "petrova@school.test", "requested": "employee"}
    return {**form.fields, **values, **changes}


def _requests(db_factory: sessionmaker[Session]) -> int:
    with db_factory() as db:
        return int(db.scalar(select(func.count()).select_from(RegistrationRequest)) or 0)


def _file(db_factory: sessionmaker[Session], directory: Directory, school: str) -> int:
    with transaction(db_factory) as db:
        filed = submit_request(
            db, RequestForm("Петрова", "Мария", None, True, directory.orgs[school], "Учитель",
                            f"{school}@school.test", "employee"), "192.0.2.1",
        )
        assert filed is not None
        return filed.id


def test_wrong_input_is_refused_in_russian_and_nothing_typed_is_lost(
    client: TestClient, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    form = _request_form(client, directory, patronymic="", email="petrova-at-school")
    answer = client.post("/register", data=form)
    assert answer.status_code == 400
    assert "Укажите отчество или отметьте «Без отчества»" in answer.text
    assert 'value="petrova-at-school"' in answer.text and 'value="Учитель"' in answer.text
    answer = client.post("/register", data={**form, "patronymic": "Ивановна"})
    assert answer.status_code == 400 and "Адрес электронной почты указан неверно" in answer.text
    assert _requests(db_factory) == 0


def test_only_organizations_of_the_registry_are_offered(client: TestClient, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    # An excluded school has no form: the search is shown instead.
    page = client.get(f"/register?organization={directory.orgs['school_excluded']}")
    assert "Название организации или ИНН" in page.text and 'name="surname"' not in page.text
    assert "Закрытая школа" not in client.get("/register?q=Закрытая").text
    # Too short a query lists nothing.
    assert "Найдено в реестре" not in client.get("/register?q=шк").text
    # A form posted for an organization out of the registry files nothing and says what to do.
    form = _request_form(client, directory, organization_id=str(directory.orgs["school_excluded"]))
    answer = client.post("/register", data=form)
    assert answer.status_code == 400 and "заявку на" in answer.text and "включение организации" in answer.text
    assert _requests(db_factory) == 0
    # A kindergarten has no employees' accounts: told so on the form.
    form = _request_form(client, directory, organization_id=str(directory.orgs["kindergarten_a"]))
    answer = client.post("/register", data=form)
    assert answer.status_code == 400 and "сотрудников не выдаются" in answer.text


def test_the_request_pages_are_for_administrators_and_show_only_their_requests(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    own, foreign = _file(db_factory, directory, "school_a"), _file(db_factory, directory, "school_b")
    stranger = client.get("/admin/requests", follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login?")
    _sign_in_as(client, settings, db_factory, directory.logins["deputy_a"])
    assert client.get("/admin/requests").status_code == 403
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    page = client.get("/admin/requests")
    assert f'id="request-{own}"' in page.text and f'id="request-{foreign}"' not in page.text
    # Another district's request reads exactly like one that does not exist.
    assert client.get(f"/admin/requests/{foreign}/reject").status_code == 404
    csrf = _csrf(client, "/admin/requests")
    form = {"csrf_token": csrf, "role": "responsible"}
    approve_foreign = client.post(f"/admin/requests/{foreign}/approve", data=form)
    approve_missing = client.post("/admin/requests/999999/approve", data=form)
    assert approve_foreign.status_code == approve_missing.status_code == 404
    alert = re.compile(r'role="alert">([^<]+)<')
    assert alert.findall(approve_foreign.text) == alert.findall(approve_missing.text)


def test_a_decision_redirects_and_a_refresh_repeats_nothing(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    own = _file(db_factory, directory, "school_a")
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/requests")
    done = client.post(f"/admin/requests/{own}/approve", data={"csrf_token": csrf, "role": "responsible"},
                       follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert f"Заявка №{own} одобрена" in page.text and "token=" not in page.text
    again = client.post(f"/admin/requests/{own}/approve", data={"csrf_token": csrf, "role": "responsible"})
    assert again.status_code == 400 and "уже принято решение" in again.text
    # The notice is built from known words only: nothing from the address bar is echoed but a login's shape.
    crafted = client.get("/admin/requests", params={"done": "resent", "login": "<b>Срочно позвоните</b>"})
    assert "Срочно позвоните" not in crafted.text


def test_the_activation_page_with_an_unknown_link_says_what_to_do(client: TestClient) -> None:
    page = client.get("/activate", params={"token": "x" * 43})
    assert page.status_code == 404 and "Ссылка не найдена" in page.text
    assert not [form for form in read_forms(page.text) if form.method == "post"]
    assert client.get("/activate").status_code == 404
