"""The card's lifecycle pages: each action is POST → 303 → GET with a notice, the destructive ones
behind a confirmation page, refusals shown in place with what was typed, everything in Russian."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings
from bridge.runtime import build_runtime
from bridge.services.moscow_time import moscow_today
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, ExternalBinding, Organization, RoleAssignment, StaffMember
from tests.routes.test_admin import CSRF, _sign_in_as
from tests.services.directory import Directory, build_directory, row_counts
from tests.support.factories import give_role, make_staff
from tests.support.html_forms import read_forms


def _token(page: str) -> str:
    match = CSRF.search(page)
    assert match is not None
    return match.group(1)


def _visible_latin(html: str, *allowed: str) -> set[str]:
    """Latin words a person reads on the page (markup, scripts, logins and the given values aside)."""
    text = unescape(re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S))
    text = re.sub(r"\badmin_\w+", " ", text)
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{3,}", text))


@pytest.fixture
def directory(db_factory: sessionmaker[Session]) -> Directory:
    return build_directory(db_factory)


def _as_department(client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
                   directory: Directory) -> str:
    """The department's administrator signed in; returns the director of a school under it."""
    _sign_in_as(client, settings, db_factory, directory.logins["dept_a"])
    return directory.logins["director_a"]


def test_edit_post_redirect_get_keeps_what_was_typed_on_a_refusal(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = _as_department(client, settings, db_factory, directory)
    card = client.get(f"/admin/staff/{director}")
    assert f'href="/admin/staff/{director}/edit"' in card.text
    page = client.get(f"/admin/staff/{director}/edit")
    assert page.status_code == 200 and 'value="Админов4"' in page.text and 'value="Петровна"' in page.text
    assert _visible_latin(page.text, director) == set()
    form = {"csrf_token": _token(page.text), "surname": "Админова", "name": "Анна", "patronymic": "Петровна",
            "email": "anna@school.test", "phone": "12-34", "note": "каб. 12"}
    before = row_counts(db_factory)
    refused = client.post(f"/admin/staff/{director}/edit", data=form)
    assert refused.status_code == 400 and "Телефон указан неверно" in refused.text
    assert 'value="Админова"' in refused.text and 'value="12-34"' in refused.text
    assert row_counts(db_factory) == before

    saved = client.post(f"/admin/staff/{director}/edit", data={**form, "phone": "+7 916 123-45-67"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/staff/{director}?done=edited"
    shown = client.get(saved.headers["location"])
    assert "Данные сотрудника сохранены" in shown.text
    assert "Админова" in shown.text and "+7 916 123-45-67" in shown.text and "anna@school.test" in shown.text
    again = client.post(f"/admin/staff/{director}/edit", data={**form, "phone": "+79161234567"},
                        follow_redirects=False)
    assert again.headers["location"].endswith("done=unchanged")


def test_a_role_is_ended_today_by_default_or_given_new_dates(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    deputy = directory.logins["deputy_a"]
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    with db_factory() as db:
        role_id = db.scalars(select(RoleAssignment.id).join(StaffMember, StaffMember.id == RoleAssignment.staff_id)
                             .where(StaffMember.login == deputy)).one()
    card = client.get(f"/admin/staff/{deputy}")
    assert f'href="/admin/staff/{deputy}/roles/{role_id}"' in card.text
    page = client.get(f"/admin/staff/{deputy}/roles/{role_id}")
    assert page.status_code == 200 and f'value="{moscow_today().isoformat()}"' in page.text
    assert "по этот день включительно" in page.text
    assert _visible_latin(page.text, deputy) == set()
    token = _token(page.text)

    bad = client.post(f"/admin/staff/{deputy}/roles/{role_id}/dates",
                      data={"csrf_token": token, "start_date": "2025-09-01", "new_end_date": "2025-01-01"})
    assert bad.status_code == 400 and "раньше начальной" in bad.text and 'value="2025-01-01"' in bad.text
    ended = client.post(f"/admin/staff/{deputy}/roles/{role_id}/end", data={"csrf_token": token, "end_date": ""},
                        follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"].endswith("done=role_ended")
    assert moscow_today().strftime("%d.%m.%Y") in client.get(ended.headers["location"]).text
    dated = client.post(f"/admin/staff/{deputy}/roles/{role_id}/dates",
                        data={"csrf_token": token, "start_date": "2024-09-01", "new_end_date": ""},
                        follow_redirects=False)
    assert dated.headers["location"].endswith("done=role_dates")
    assert client.get(f"/admin/staff/{deputy}/roles/999999").status_code == 404


def test_block_asks_first_then_blocks_and_unblock_is_one_press(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = _as_department(client, settings, db_factory, directory)
    confirm = client.get(f"/admin/staff/{director}/block")
    assert confirm.status_code == 200 and "Заблокировать учётную запись?" in confirm.text
    assert "ни через Госуслуги, ни через РСАА, ни по паролю" in confirm.text
    assert _visible_latin(confirm.text, director) == set()
    with db_factory() as db:
        assert db.scalars(select(StaffMember.status).where(StaffMember.login == director)).one() == "active"
    token = _token(confirm.text)
    no_reason = client.post(f"/admin/staff/{director}/block", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 400 and "Укажите причину блокировки" in no_reason.text

    blocked = client.post(f"/admin/staff/{director}/block", data={"csrf_token": token, "reason": "Проверка"},
                          follow_redirects=False)
    assert blocked.status_code == 303
    card = client.get(blocked.headers["location"])
    assert "все сеансы завершены" in card.text and "Причина: Проверка" in card.text
    assert directory.logins["dept_a"] in card.text, "who blocked"
    assert "Разблокировать" in card.text and "Заблокировать…" not in card.text
    unblocked = client.post(f"/admin/staff/{director}/unblock", data={"csrf_token": token}, follow_redirects=False)
    assert unblocked.headers["location"].endswith("done=unblocked")
    assert "Учётная запись заблокирована" not in client.get(f"/admin/staff/{director}").text


def test_deactivation_says_what_will_happen_with_the_configured_retention(
    settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    # BRIDGE_DEACTIVATED_RETENTION_DAYS=90
    settings = replace(settings, housekeeping=replace(settings.housekeeping, deactivated_retention=timedelta(days=90)))
    with TestClient(create_app(settings, runtime=build_runtime(settings, engine=db_factory.kw["bind"])),
                    base_url="https://bridge.test") as client:
        director = _as_department(client, settings, db_factory, directory)
        confirm = client.get(f"/admin/staff/{director}/deactivate")
        assert "Через 90 дн. персональные данные" in confirm.text and "окончательное" in confirm.text
        assert _visible_latin(confirm.text, director) == set()
        token = _token(confirm.text)
        unchosen = client.post(f"/admin/staff/{director}/deactivate", data={"csrf_token": token})
        assert unchosen.status_code == 400 and "Укажите причину отключения" in unchosen.text
        done = client.post(f"/admin/staff/{director}/deactivate", data={"csrf_token": token, "reason": "person_asked"},
                           follow_redirects=False)
        card = client.get(done.headers["location"])
        assert "Кабинет отключён" in card.text and "по просьбе сотрудника" in card.text
        assert "Персональные данные будут удалены" in card.text
        for gone in ("Заблокировать", "Сбросить пароль", "Изменить данные", "Добавить роль", "Завершить сеансы"):
            assert gone not in card.text, gone
        # Asked again (a second tab), it is refused calmly.
        again = client.post(f"/admin/staff/{director}/deactivate", data={"csrf_token": token, "reason": "left"})
        assert again.status_code == 400 and "отключён" in again.text


def test_unbind_one_binding_after_confirming_and_end_sessions(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = _as_department(client, settings, db_factory, directory)
    with transaction(db_factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == director)).one()
        for provider in ("esia", "rsaa"):
            db.add(ExternalBinding(staff_id=staff.id, provider=provider, issuer=f"https://{provider}.test",
                                   subject="1", flow="local_first"))
    card = client.get(f"/admin/staff/{director}")
    assert f'href="/admin/staff/{director}/bindings/esia/unbind"' in card.text
    assert client.get(f"/admin/staff/{director}/bindings/max/unbind").status_code == 404
    confirm = client.get(f"/admin/staff/{director}/bindings/esia/unbind")
    assert "Отвязать Госуслуги (ЕСИА)?" in confirm.text and "пароль при этом не сбрасывается" in confirm.text
    assert _visible_latin(confirm.text, director) == set()
    token = _token(confirm.text)
    done = client.post(f"/admin/staff/{director}/bindings/esia/unbind", data={"csrf_token": token},
                       follow_redirects=False)
    assert done.headers["location"].endswith("done=unbound")
    with db_factory() as db:
        assert db.scalars(select(ExternalBinding.provider)).all() == ["rsaa"]
    ended = client.post(f"/admin/staff/{director}/end-sessions", data={"csrf_token": token}, follow_redirects=False)
    assert ended.headers["location"].endswith("done=sessions_ended")
    assert "Все сеансы сотрудника завершены" in client.get(ended.headers["location"]).text
    with db_factory() as db:
        events = [event.event for event in db.scalars(select(AuditEvent))]
    assert events == ["binding.removed", "signin.sessions_ended"]


def test_the_card_offers_only_what_the_actor_may_do(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    with transaction(db_factory) as db:
        # Deputy of two schools: director A manages one of her roles only.
        teacher = make_staff(db, surname="Двухшкольная", login="dvukhshkolnaya")
        for school in ("school_a", "school_a2"):
            organization = db.get(Organization, directory.orgs[school])
            assert organization is not None
            give_role(db, teacher, organization, Role.SCHOOL_DEPUTY)
    _sign_in_as(client, settings, db_factory, directory.logins["director_a"])
    card = client.get("/admin/staff/dvukhshkolnaya").text
    assert card.count("Завершить или изменить даты") == 1
    for absent in ("Заблокировать", "Отключить кабинет", "Изменить данные", "Сбросить пароль…"):
        assert absent not in card, absent
    assert "может администратор, которому подчинены все действующие роли" in " ".join(card.split())
    assert _visible_latin(card, "dvukhshkolnaya") == set()


def test_the_role_select_offers_a_role_with_the_organizations_it_fits(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = _as_department(client, settings, db_factory, directory)
    page = client.get(f"/admin/staff/{director}").text
    fits = dict(re.findall(r'<option value="([a-z_]+)" data-organizations="([\d ]*)"', page))
    assert set(fits["school_director"].split()) == {str(directory.orgs["school_a"]), str(directory.orgs["school_a2"])}
    assert fits["college_director"] == str(directory.orgs["college_a"])
    assert fits["kindergarten_head"] == str(directory.orgs["kindergarten_a"])
    assert '<script src="/static/role_fields.js" defer>' in page
    assert client.get("/static/role_fields.js").status_code == 200


def test_the_slip_prints_alone(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], directory: Directory
) -> None:
    director = _as_department(client, settings, db_factory, directory)
    confirm = client.get(f"/admin/staff/{director}/reset-password")
    form = next(form for form in read_forms(confirm.text) if form.action.endswith("/reset-password"))
    slip = client.post(f"/admin/staff/{director}/reset-password", data=form.fields)
    assert slip.status_code == 200 and 'class="slip"' in slip.text and "Распечатать памятку" in slip.text
    assert "Как войти" in slip.text and "(МСК)" in slip.text
    password = re.search(r'id="issued-password">([^<]+)<', slip.text)
    assert password is not None
    assert _visible_latin(slip.text, director, unescape(password.group(1)), "https://bridge.test/login") == set()
    css = client.get("/static/bridge.css").text
    assert "@media print" in css and ".no-print { display: none" in css.replace("\n", " ").replace(
        ".topbar, .footer, .no-print { display: none !important; }", ".no-print { display: none"
    )
    assert client.get("/static/print.js").status_code == 200
