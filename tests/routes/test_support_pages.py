"""Technical support's pages: the registry, relying apps, signing keys; «Журнал» for every administrator.

Through HTTP as a browser would use them: POST → 303 → GET, a secret shown once, the confirmation
steps, the forbidden answer for anyone but support, the subtree of the audit log.
"""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.clients import client_secret_digest
from bridge.storage.models import AuditEvent, AuthFlow, OAuthClient, Organization, SigningKey, StaffMember
from bridge.web.signin_cookie import signin_cookie_name
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'id="client-secret">([^<]+)<')


def _sign_in(client: TestClient, settings: Settings, db_factory: sessionmaker[Session], login: str) -> None:
    client.cookies.clear()
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        role = staff.roles[0]
        db.expunge_all()
    sign_in_browser(client, settings, db_factory, staff.id, role)


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def _support(client: TestClient, settings: Settings, db_factory: sessionmaker[Session]) -> Directory:
    directory = build_directory(db_factory)
    _sign_in(client, settings, db_factory, directory.logins["support_staff"])
    return directory


def _count(db_factory: sessionmaker[Session], model: type) -> int:
    with db_factory() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_only_support_opens_the_support_pages(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in(client, settings, db_factory, directory.logins["dept_a"])
    for path in ("/support/organizations", "/support/organizations/new", "/support/organizations/import",
                 "/support/apps", "/support/apps/new", "/support/keys", "/support/keys/rotate"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "техническая поддержка" in response.text
    token = _csrf(client, "/admin/staff/new")
    before = _count(db_factory, Organization)
    response = client.post("/support/organizations/new", data={"csrf_token": token, "name": "Школа", "kind": "school"})
    assert response.status_code == 403 and _count(db_factory, Organization) == before
    response = client.post("/support/keys/rotate", data={"csrf_token": token})
    assert response.status_code == 403


def test_support_adds_edits_and_finds_an_organization(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = _support(client, settings, db_factory)
    token = _csrf(client, "/support/organizations/new")
    form = {"csrf_token": token, "name": "Школа № 45", "kind": "school", "inn": "7707083893",
            "parent_id": str(directory.orgs["dept_a"])}
    response = client.post("/support/organizations/new", data=form, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Организация добавлена в реестр." in page.text and "Школа № 45" in page.text
    assert "Дзержинский" in page.text  # the district came from the department
    with db_factory() as db:
        school = db.scalars(select(Organization).where(Organization.name == "Школа № 45")).one()
    # The same ИНН again: the form comes back with the reason, nothing added.
    again = client.post("/support/organizations/new", data={**form, "name": "Другая"})
    assert again.status_code == 400 and "ИНН 7707083893 уже есть" in again.text
    edit = {**form, "name": "Школа № 45 имени Пушкина", "registry_status": "excluded"}
    response = client.post(f"/support/organizations/{school.id}", data=edit, follow_redirects=False)
    assert response.status_code == 303
    found = client.get("/support/organizations", params={"q": "Пушкина"})
    assert "Школа № 45 имени Пушкина" in found.text and "исключена из реестра" in found.text
    assert client.get("/support/organizations/999999").status_code == 404
    with db_factory() as db:
        events = [event.event for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    # The refused duplicate is audited as a refusal between them.
    assert events[-3:] == ["organization.created", "issuance.refused", "organization.edited"]


def _csv(rows: list[str]) -> bytes:
    return ("\n".join(["Название;Вид;ИНН;Вышестоящая", *rows]) + "\n").encode()


def test_an_import_is_checked_first_and_kept_whole_or_not_at_all(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = _support(client, settings, db_factory)
    token = _csrf(client, "/support/organizations/import")
    dept = directory.orgs["dept_a"]
    bad = _csv(["Школа № 101;школа;;" + str(dept), "Школа № 102;завод;;", "Школа № 103;школа;123;"])
    before = _count(db_factory, Organization)
    checked = client.post("/support/organizations/import", data={"csrf_token": token, "action": "import"},
                          files={"file": ("schools.csv", bad, "text/csv")})
    assert checked.status_code == 400
    assert "Строка 3" in checked.text and "Неизвестный вид организации «завод»" in checked.text
    assert "Строка 4" in checked.text and "ИНН" in checked.text
    assert _count(db_factory, Organization) == before  # the right row was not kept either

    good = _csv([f"Школа № 101;школа;;{dept}", "Школа № 102;Школа;;"])
    dry = client.post("/support/organizations/import", data={"csrf_token": token, "action": "check"},
                      files={"file": ("schools.csv", good, "text/csv")})
    assert dry.status_code == 200 and "Проверка прошла" in dry.text
    assert _count(db_factory, Organization) == before
    kept = client.post("/support/organizations/import", data={"csrf_token": token, "action": "import"},
                       files={"file": ("schools.csv", good, "text/csv")}, follow_redirects=False)
    assert kept.status_code == 303
    assert _count(db_factory, Organization) == before + 2

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Название", "Вид", "Район"])
    sheet.append(["Детский сад № 7", "детский сад", "Ленинский"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = client.post("/support/organizations/import", data={"csrf_token": token, "action": "import"},
                       files={"file": ("sad.xlsx", buffer.getvalue(), "application/octet-stream")},
                       follow_redirects=False)
    assert xlsx.status_code == 303 and _count(db_factory, Organization) == before + 3
    broken = client.post("/support/organizations/import", data={"csrf_token": token, "action": "check"},
                         files={"file": ("broken.xlsx", b"not a workbook", "application/octet-stream")})
    assert broken.status_code == 400 and "не читается" in broken.text


def test_a_client_secret_is_shown_once_and_a_new_one_kills_the_old(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    _support(client, settings, db_factory)
    token = _csrf(client, "/support/apps/new")
    form = {"csrf_token": token, "name": "Электронный журнал",
            "redirect_uris": "https://journal.example.ru/cb\nhttps://journal.example.ru/cb2"}
    response = client.post("/support/apps/new", data=form, follow_redirects=False)
    assert response.status_code == 303
    slip_url = response.headers["location"]
    shown = client.get(slip_url)
    match = SECRET.search(shown.text)
    assert shown.status_code == 200 and match is not None
    first_secret = match.group(1)
    # A refresh, a second tab, a copied URL: gone, and no new secret made.
    again = client.get(slip_url)
    assert again.status_code == 410 and "уже был показан" in again.text and first_secret not in again.text
    with db_factory() as db:
        app = db.scalars(select(OAuthClient).where(OAuthClient.name == "Электронный журнал")).one()
        assert app.secret_hash == client_secret_digest(settings.secret_key, first_secret)
        client_id = app.client_id
    # Another browser cannot open this browser's slip.
    response = client.post(f"/support/apps/{client_id}/secret", data={"csrf_token": token}, follow_redirects=False)
    second_url = response.headers["location"]
    # The same administrator's session in another browser (its own browser id): the slip is sealed for the first.
    other = TestClient(client.app, base_url="https://bridge.test")
    other.cookies.set(signin_cookie_name(settings), client.cookies[signin_cookie_name(settings)])
    stolen = other.get(second_url)
    assert stolen.status_code == 410 and SECRET.search(stolen.text) is None
    with db_factory() as db:
        app = db.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
        assert app.secret_hash != client_secret_digest(settings.secret_key, first_secret)
        assert db.scalar(select(func.count()).select_from(AuthFlow)) == 1  # the slip still waits for its browser
    # The confirmation step asks before anything changes.
    assert "Прежний секрет перестанет действовать" in client.get(f"/support/apps/{client_id}/secret").text


def test_a_secret_slip_is_opened_only_by_support_even_in_supports_browser(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = _support(client, settings, db_factory)
    token = _csrf(client, "/support/apps/new")
    form = {"csrf_token": token, "name": "Питание", "redirect_uris": "https://food.example.ru/cb"}
    slip_url = client.post("/support/apps/new", data=form, follow_redirects=False).headers["location"]
    # A department head signs into the same browser (its browser id, so the slip's seal, stays).
    _sign_in(client, settings, db_factory, directory.logins["dept_a"])
    refused = client.get(slip_url)
    assert refused.status_code == 403 and SECRET.search(refused.text) is None
    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(AuthFlow).where(AuthFlow.kind == "secret_slip")) == 1


def test_record_numbers_too_long_or_not_ascii_are_refused_not_crashed(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    _support(client, settings, db_factory)
    huge = "9" * 30
    for path in (f"/support/queue/{huge}", f"/support/organizations/{huge}", "/support/queue/²"):
        assert client.get(path).status_code == 404, path
    for query in ({"org": huge}, {"org": "²"}, {"page": "²"}):
        page = client.get("/admin/audit", params=query)
        assert page.status_code in (200, 400) and "Что-то пошло не так" not in page.text, query
    assert client.get("/admin/audit", params={"org": huge}).status_code == 400
    assert client.get("/admin/audit/export", params={"org": huge}).status_code == 400


def test_redirect_uris_are_checked_and_an_app_is_disabled_after_a_confirmation(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    _support(client, settings, db_factory)
    token = _csrf(client, "/support/apps/new")
    response = client.post("/support/apps/new", data={"csrf_token": token, "name": "Портал", "public": "1",
                                                      "redirect_uris": "https://portal.example.ru/cb"},
                           follow_redirects=False)
    with db_factory() as db:
        client_id = db.scalars(select(OAuthClient.client_id).where(OAuthClient.name == "Портал")).one()
    assert response.headers["location"].endswith(f"/support/apps/{client_id}")
    bad = client.post(f"/support/apps/{client_id}", data={"csrf_token": token,
                                                          "redirect_uris": "http://portal.example.ru/cb"})
    assert bad.status_code == 400 and "http разрешён только для localhost" in bad.text
    saved = client.post(f"/support/apps/{client_id}", data={"csrf_token": token,
                                                            "redirect_uris": "https://portal.example.ru/new"},
                        follow_redirects=False)
    assert saved.status_code == 303
    with db_factory() as db:
        app = db.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
        assert app.redirect_uris == ["https://portal.example.ru/new"] and app.disabled_at is None
    assert "Отключить приложение?" in client.get(f"/support/apps/{client_id}/disable").text
    done = client.post(f"/support/apps/{client_id}/disable", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert "Приложение отключено" in client.get(done.headers["location"]).text
    with db_factory() as db:
        assert db.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one().disabled_at


def test_support_rotates_the_keys_after_a_confirmation(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    _support(client, settings, db_factory)
    page = client.get("/support/keys")
    assert page.status_code == 200
    before = _count(db_factory, SigningKey)
    confirm = client.get("/support/keys/rotate")
    assert "Сменить ключи подписи сейчас?" in confirm.text and _count(db_factory, SigningKey) == before
    token = _csrf(client, "/support/keys/rotate")
    done = client.post("/support/keys/rotate", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    listed = client.get(done.headers["location"])
    assert "Новые ключи подписывают токены" in listed.text
    assert _count(db_factory, SigningKey) == before + 2
    assert listed.text.count("подписывает") >= 2


def test_the_audit_log_shows_each_administrator_their_subtree(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    director, deputy = directory.logins["director_a"], directory.logins["deputy_a"]
    # The department unlocks the director: a record about school A's people.
    _sign_in(client, settings, db_factory, directory.logins["dept_a"])
    token = _csrf(client, "/admin/staff/new")
    assert client.post(f"/admin/staff/{director}/unlock", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    seen = client.get("/admin/audit", params={"event": "throttle."})
    assert seen.status_code == 200 and "throttle.unlocked" in seen.text
    export = client.get("/admin/audit/export", params={"event": "throttle."})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.text.count("throttle.unlocked") == 1
    # The preschool department sees nothing of district A; the deputy has no audit log at all.
    _sign_in(client, settings, db_factory, directory.logins["preschool"])
    other = client.get("/admin/audit", params={"event": "throttle."})
    assert other.status_code == 200 and "throttle.unlocked" not in other.text
    assert client.get("/admin/audit/export", params={"event": "throttle."}).text.count("throttle.unlocked") == 0
    _sign_in(client, settings, db_factory, deputy)
    assert client.get("/admin/audit").status_code == 403
    # Support sees everything; a bad date is a message, not a 500.
    _sign_in(client, settings, db_factory, directory.logins["support_staff"])
    assert "throttle.unlocked" in client.get("/admin/audit", params={"event": "throttle.", "actor":
                                                                      directory.logins["dept_a"]}).text
    wrong = client.get("/admin/audit", params={"from": "вчера"})
    assert wrong.status_code == 400 and "дата указана неверно" in wrong.text


def test_the_account_page_leads_each_administrator_to_their_pages(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = _support(client, settings, db_factory)
    page = client.get("/account").text
    assert 'href="/admin/staff"' in page and 'href="/support/queue"' in page
    _sign_in(client, settings, db_factory, directory.logins["dept_a"])
    page = client.get("/account").text
    assert 'href="/admin/staff"' in page and 'href="/admin/requests"' in page and "/support/" not in page
    _sign_in(client, settings, db_factory, directory.logins["deputy_a"])
    page = client.get("/account").text
    assert "/admin/" not in page and "/support/" not in page
