"""Administration pages: one-time passwords shown once after a redirect, limited selects, CSRF, sign-in required."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.credentials import check_issued_credential
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, AuthFlow, ExternalBinding, Organization, StaffMember
from bridge.web.signin_cookie import signin_cookie_name
from tests.services.directory import Directory, build_directory, organization_name, row_counts
from tests.support.browser import sign_in_browser
from tests.support.factories import give_role, make_staff
from tests.support.throttle import is_locked, lock_out

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in_as(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], login: str
) -> None:
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        role = staff.roles[0]
        db.expunge_all()
    sign_in_browser(client, settings, db_factory, staff.id, role)


def _csrf(client: TestClient, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def _new_deputy_form(directory: Directory, csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "organization_id": str(directory.orgs["school_a"]),
        "role": "school_deputy",
        "start_date": "2024-09-01",
        "end_date": "",
        "surname": "Новый",
        "name": "Пётр",
        "patronymic": "",
        "no_patronymic": "1",
        "snils": "",
        "note": "учитель математики",
        "action": "save",
    }
    form.update(changes)
    return form


def _issued_password(html: str) -> str:
    match = re.search(r'id="issued-password">([^<]+)<', html)
    assert match is not None, "no password on the page"
    # Jinja escapes a few characters the generator never uses; the rest come through unchanged.
    return match.group(1)


def test_a_stranger_is_sent_to_sign_in(client: TestClient) -> None:
    for path in ("/admin/staff", "/admin/staff/new", "/admin/staff/someone"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?" + urlencode({"next": path})
    # CSRF is checked before anything else: a stranger's POST needs a token to reach the sign-in check.
    assert client.post("/admin/staff/someone/reset-password", follow_redirects=False).status_code == 403
    token = _csrf(client, "/login/first")
    response = client.post("/admin/staff/someone/reset-password", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_a_role_that_issues_nothing_gets_a_russian_403(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["deputy_a"])
    response = client.get("/admin/staff")
    assert response.status_code == 403
    assert "Доступ запрещён" in response.text
    assert "нельзя выдавать учётные записи" in response.text


def test_the_password_is_shown_once_on_the_page_after_the_redirect(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/staff/new")
    posted = client.post("/admin/staff/new", data=_new_deputy_form(directory, csrf), follow_redirects=False)
    assert posted.status_code == 303
    slip_url = posted.headers["location"]
    assert slip_url.startswith("/admin/staff/novyi/password/")
    # While it waits, the database holds the password sealed for this browser only, never in clear.
    with db_factory() as db:
        parked = db.scalars(select(AuthFlow).where(AuthFlow.kind == "credential_slip")).one()
        assert set(parked.data) == {"sealed"}

    response = client.get(slip_url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    password = _issued_password(response.text)
    assert password not in posted.text and password not in slip_url and password not in str(parked.data)
    assert "Пароль показывается один раз" in response.text and "novyi" in response.text
    assert "Как войти" in response.text and "https://bridge.test/login" in response.text
    with transaction(db_factory) as db:
        assert check_issued_credential(db, "novyi", password).note == "учитель математики"
        assert db.scalars(select(AuthFlow)).all() == []

    # A refresh shows it no more, and issues nothing.
    refreshed = client.get(slip_url)
    assert refreshed.status_code == 410
    assert "Пароль уже был показан" in refreshed.text and password not in refreshed.text
    with transaction(db_factory) as db:
        check_issued_credential(db, "novyi", password)
    card = client.get("/admin/staff/novyi")
    assert card.status_code == 200
    assert "Новый Пётр" in card.text
    assert password not in card.text
    assert 'id="issued-password"' not in card.text
    assert password not in client.get("/admin/staff").text
    assert password not in str(client.cookies)


def test_the_slip_opens_only_in_the_browser_that_issued_it(
    client: TestClient, app: Starlette, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/staff/new")
    slip_url = client.post(
        "/admin/staff/new", data=_new_deputy_form(directory, csrf), follow_redirects=False
    ).headers["location"]
    # Another browser of the same administrator (same sign-in, another flow cookie) finds nothing.
    with TestClient(app, base_url="https://bridge.test") as other:
        other.cookies.set(signin_cookie_name(settings), client.cookies[signin_cookie_name(settings)])
        stolen = other.get(slip_url)
        assert stolen.status_code == 410 and 'id="issued-password"' not in stolen.text
    assert 'id="issued-password"' in client.get(slip_url).text


def test_save_and_close_shows_the_password_then_returns_to_the_list(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/staff/new")
    response = client.post("/admin/staff/new", data=_new_deputy_form(directory, csrf, action="save_close"))
    assert response.status_code == 200
    password = _issued_password(response.text)
    assert 'class="button" href="/admin/staff">Готово' in response.text
    assert password not in client.get("/admin/staff").text


def test_reset_shows_a_new_password_once_and_removes_bindings(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    deputy = directory.logins["deputy_a"]
    with transaction(db_factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == deputy)).one()
        db.add(ExternalBinding(staff_id=staff.id, provider="esia", issuer="https://esia.test", subject="1",
                               flow="local_first"))
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    card = client.get(f"/admin/staff/{deputy}")
    assert "Госуслуги (ЕСИА)" in card.text
    # The card links to a confirmation; asking for it changes nothing.
    assert f'href="/admin/staff/{deputy}/reset-password"' in card.text
    confirm = client.get(f"/admin/staff/{deputy}/reset-password")
    assert confirm.status_code == 200 and "Сбросить пароль?" in confirm.text
    assert db_factory().scalars(select(ExternalBinding)).all() != []
    csrf = CSRF.search(confirm.text)
    assert csrf is not None
    posted = client.post(f"/admin/staff/{deputy}/reset-password", data={"csrf_token": csrf.group(1)},
                         follow_redirects=False)
    assert posted.status_code == 303
    response = client.get(posted.headers["location"])
    password = _issued_password(response.text)
    assert "Привязок к внешним учётным записям удалено: 1" in response.text
    with transaction(db_factory) as db:
        check_issued_credential(db, deputy, password)
        assert db.scalars(select(ExternalBinding)).all() == []
        events = [event.event for event in db.scalars(select(AuditEvent))]
    assert events.count("credential.reset") == 1
    # Refreshing the slip neither shows the password again nor resets again.
    assert password not in client.get(posted.headers["location"]).text
    again = client.get(f"/admin/staff/{deputy}")
    assert password not in again.text
    assert "Привязок нет" in again.text
    with transaction(db_factory) as db:
        check_issued_credential(db, deputy, password)
        assert [event.event for event in db.scalars(select(AuditEvent))].count("credential.reset") == 1


def test_the_selects_list_only_what_the_actor_may_issue(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    page = client.get("/admin/staff/new").text
    offered_orgs = set(re.findall(r'<option value="(\d+)"', page))
    assert offered_orgs == {
        str(directory.orgs[key]) for key in ("school_a", "school_a2", "college_a", "kindergarten_a")
    }
    offered_roles = set(re.findall(r'<option value="([a-z_]+)"', page))
    assert offered_roles == {"school_director", "college_director", "kindergarten_head"}
    assert organization_name(db_factory, directory.orgs["school_b"]) not in page

    client.cookies.clear()
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    page = client.get("/admin/staff/new").text
    assert set(re.findall(r'<option value="(\d+)"', page)) == {str(directory.orgs["school_a"])}
    assert set(re.findall(r'<option value="([a-z_]+)"', page)) == {
        "school_deputy", "social_pedagogue", "responsible"
    }


def test_errors_are_shown_in_russian_with_the_values_kept(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/staff/new")
    before = row_counts(db_factory)
    response = client.post(
        "/admin/staff/new",
        data=_new_deputy_form(directory, csrf, patronymic="Ильич", surname="Сидоров", snils="112-233-445 95"),
    )
    assert response.status_code == 400
    assert "Отчество указано, но отмечено «Без отчества»" in response.text
    assert 'value="Сидоров"' in response.text
    assert 'value="Ильич"' in response.text
    assert 'value="112-233-445 95"' in response.text
    assert row_counts(db_factory) == before

    # A forged organization outside the director's own is refused too (not just hidden from the select).
    response = client.post(
        "/admin/staff/new",
        data=_new_deputy_form(directory, csrf, organization_id=str(directory.orgs["school_b"])),
    )
    assert response.status_code == 400
    assert "только в своей организации" in response.text
    assert row_counts(db_factory) == before
    with db_factory() as db:
        reasons = [event.details["reason"] for event in db.scalars(select(AuditEvent))]
    assert reasons == ["patronymic_conflict", "outside_organization"]


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    client.get("/admin/staff/new")
    before = row_counts(db_factory)
    forged = _new_deputy_form(directory, "forged-token")
    assert client.post("/admin/staff/new", data=forged).status_code == 403
    del forged["csrf_token"]
    assert client.post("/admin/staff/new", data=forged).status_code == 403
    deputy = directory.logins["deputy_a"]
    response = client.post(f"/admin/staff/{deputy}/reset-password", data={})
    assert response.status_code == 403
    assert "Форма устарела" in response.text
    assert row_counts(db_factory) == before


def test_adding_a_role_on_the_card(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    deputy = directory.logins["deputy_a"]
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    card = client.get(f"/admin/staff/{deputy}")
    csrf = CSRF.search(card.text)
    assert csrf is not None
    form = {"csrf_token": csrf.group(1), "organization_id": str(directory.orgs["school_a"]),
            "role": "social_pedagogue", "start_date": "2024-09-01", "end_date": ""}
    response = client.post(f"/admin/staff/{deputy}/roles", data=form)
    assert response.status_code == 200
    assert "Роль «Социальный педагог» добавлена; это первая учётная запись сотрудника." in response.text
    # The test directory made this deputy without a credential: the addition issues the first one.
    password = _issued_password(response.text)
    with transaction(db_factory) as db:
        check_issued_credential(db, deputy, password)
    again = client.post(f"/admin/staff/{deputy}/roles", data=form)
    assert again.status_code == 400
    assert "уже есть роль" in again.text
    assert 'id="issued-password"' not in again.text


def test_the_list_holds_only_managed_staff_and_searches_by_surname(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    page = client.get("/admin/staff").text
    assert "Новый сотрудник" in page
    assert directory.logins["director_a"] in page
    assert directory.logins["college_director"] in page
    assert directory.logins["deputy_a"] not in page
    token = _csrf(client, "/admin/staff")
    searched = client.post("/admin/staff-search", data={"csrf_token": token, "q": "нет-такой"}).text
    assert directory.logins["director_a"] not in searched
    assert "Никого не нашлось" in searched
    # A card of someone outside the actor's reach is not shown.
    assert client.get(f"/admin/staff/{directory.logins['deputy_a']}").status_code == 403
    assert client.get("/admin/staff/nobody").status_code == 404


def test_unlock_on_the_card_lifts_the_lock_post_redirect_get(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    lock_out(app, director)
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    card = client.get(f"/admin/staff/{director}")
    assert "Вход по паролю временно ограничен" in card.text and "Снять блокировку входа" in card.text
    csrf = CSRF.search(card.text)
    assert csrf is not None

    # Without the form's token nothing happens.
    for forged in ({}, {"csrf_token": "forged"}):
        refused = client.post(f"/admin/staff/{director}/unlock", data=forged, follow_redirects=False)
        assert refused.status_code == 403 and "Форма устарела" in refused.text
    assert is_locked(app, director)

    lifted = client.post(f"/admin/staff/{director}/unlock", data={"csrf_token": csrf.group(1)},
                         follow_redirects=False)
    assert lifted.status_code == 303 and lifted.headers["location"] == f"/admin/staff/{director}?done=unlocked"
    after = client.get(lifted.headers["location"])
    assert "Блокировка входа по паролю снята" in after.text
    assert "Неудачных попыток ввода пароля нет" in after.text and "Снять блокировку входа" not in after.text
    assert not is_locked(app, director)
    with db_factory() as db:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.event == "throttle.unlocked")).all()
        assert event.actor == directory.logins["dept_a"] and event.details["login"] == director


def test_unlock_is_refused_outside_the_hierarchy_and_the_lock_stays(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette
) -> None:
    directory = build_directory(db_factory)
    with db_factory() as db, db.begin():
        # A deputy in two schools: the director of one of them sees the card but is not above both.
        teacher = make_staff(db, surname="Двухшкольная", login="dvukhshkolnaya")
        for school in ("school_a", "school_a2"):
            organization = db.get(Organization, directory.orgs[school])
            assert organization is not None
            give_role(db, teacher, organization, Role.SCHOOL_DEPUTY)
    lock_out(app, "dvukhshkolnaya")
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    csrf = _csrf(client, "/admin/staff/dvukhshkolnaya")

    refused = client.post("/admin/staff/dvukhshkolnaya/unlock", data={"csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 400 and "которыми вы не управляете" in refused.text
    # Nor may he lift the lock on a person he does not manage at all (his own superior's card).
    hidden = client.post(f"/admin/staff/{directory.logins['dept_a']}/unlock", data={"csrf_token": csrf})
    assert hidden.status_code == 403
    assert is_locked(app, "dvukhshkolnaya")
    with db_factory() as db:
        refusals = db.scalars(select(AuditEvent).where(AuditEvent.event == "issuance.refused")).all()
        assert [(event.details["operation"], event.details["reason"]) for event in refusals] == [
            ("throttle.unlock", "staff_not_managed")
        ] * 2
        assert db.scalars(select(AuditEvent).where(AuditEvent.event == "throttle.unlocked")).all() == []


def test_the_card_writes_snils_phone_position_and_moscow_time(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    form = _new_deputy_form(
        directory, _csrf(client, "/admin/staff/new"), snils="11223344595", phone="8 (495) 123-45-67, доб. 12",
        position="заместитель директора по УВР",
    )
    slip = client.post("/admin/staff/new", data=form, follow_redirects=True)
    assert slip.status_code == 200, slip.text[:500]
    # Times are Moscow's, with Russian month names; never UTC.
    assert re.search(r"Пароль действует до \d{1,2} [а-я]+ \d{4}, \d\d:\d\d \(МСК\)", slip.text)
    with db_factory() as db:
        login = db.scalars(select(StaffMember.login).where(StaffMember.snils == "11223344595")).one()
    card = client.get(f"/admin/staff/{login}")
    assert "<p>112-233-445 95</p>" in card.text
    assert "+7 495 123-45-67, доб. 12" in card.text and "заместитель директора по УВР" in card.text
    assert "(МСК)" in card.text and " UTC" not in card.text
    assert "Сотрудник ещё не подтверждал данные о месте работы" in card.text
