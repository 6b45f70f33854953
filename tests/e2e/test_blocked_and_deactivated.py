"""A block or a deactivation, done on the administration pages, ends every way in at once.

The whole product in-process: the administrator signs in and acts through the pages; the person
signs in through the mock ESIA/РСАА and holds a relying app's tokens. After «Заблокировать» the
browser's session, the refresh token and the access token stop working at once, and no sign-in
succeeds — ESIA, РСАА or the issued password; «Разблокировать» gives the federated sign-in back.
«Отключить кабинет» does the same for good, and the housekeeping later removes the person's data
from every table while the audit trail stays, without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select

from bridge.services.clients import register_client
from bridge.services.housekeeping import RetentionPolicy, purge_pass
from bridge.services.roles import OrganizationKind, Role
from bridge.storage.models import AuditEvent, AuditPersonalDetails, Base, StaffMember
from bridge.storage.types import utcnow
from tests.e2e.world import (
    BRIDGE,
    PASSWORD,
    World,
    choose_provider,
    enter_password,
    only_form,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.factories import give_role, make_organization, make_staff

pytestmark = pytest.mark.anyio

# The mock's people: the administrator signs in as Новиков, the person as Смирнова.
NOVIKOV = "novikov@uo-podolsk.ru"
SMIRNOVA = "e.smirnova@school1535.ru"
KUZNETSOV = "a.kuznetsov@school1535.ru"
APP_REDIRECT = "http://127.0.0.1:7000/cb"
BLOCKED = "Учётная запись заблокирована"
DEACTIVATED = "Личный кабинет отключён"


@dataclass(frozen=True)
class Directory:
    admin: str
    person: str
    # A colleague holding an issued password never used: the local-password path.
    newcomer: str


def directory(world: World) -> Directory:
    """A department, a school under it, its administrator, and two people of the school."""
    with world.db() as db, db.begin():
        department = make_organization(db, name="Управление образования г. Подольска",
                                       kind=OrganizationKind.EDUCATION_DEPARTMENT)
        school = make_organization(db, name="ГБОУ Школа № 1535", parent=department)
        admin = make_staff(db, surname="Новиков", name="Олег", patronymic="Игоревич", login="novikov",
                           password=PASSWORD)
        give_role(db, admin, department, Role.EDUCATION_DEPARTMENT)
        person = make_staff(db, surname="Смирнова", name="Елена", patronymic="Викторовна", login="smirnova",
                            password=PASSWORD, snils="77356324731")
        person.email = "e.smirnova@school1535.ru"
        person.phone = "+79161234501"
        give_role(db, person, school, Role.SCHOOL_DIRECTOR)
        newcomer = make_staff(db, surname="Кузнецов", name="Андрей", patronymic="Николаевич", login="kuznetsov",
                              password=PASSWORD)
        give_role(db, newcomer, school, Role.SCHOOL_DIRECTOR)
        register_client(db, world.settings.secret_key, name="ЕКИС", redirect_uris=[APP_REDIRECT], public=True,
                        client_id="ekis")
    return Directory(admin="novikov", person="smirnova", newcomer="kuznetsov")


@asynccontextmanager
async def signed_in(
    world: World, email: str, login: str, provider: str = "Госуслуги"
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as `login` through the mock's `email`, binding it the first time."""
    async with world.browser() as browser:
        page = await sign_in_through(browser, provider, email)
        if page.url.path == "/login/bind":
            page = await enter_password(browser, page, login)
        assert page.url.path == "/account", page.text[:500]
        yield browser


async def federated(browser: httpx.AsyncClient, title: str, email: str) -> httpx.Response:
    """Press the provider's button; sign in at the mock unless it still remembers this browser."""
    page = await choose_provider(browser, await browser.get(f"{BRIDGE}/login"), title)
    return await sign_in_at_provider(browser, page, email) if page.url.host == "idp.test" else page


async def app_tokens(browser: httpx.AsyncClient) -> dict[str, Any]:
    """A relying app's code flow in the signed-in browser: access, refresh and id tokens."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = {"response_type": "code", "client_id": "ekis", "redirect_uri": APP_REDIRECT, "scope": "openid profile",
             "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    answer = await browser.get(f"{BRIDGE}/oidc/authorize?" + urlencode(query), follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = await browser.post(f"{BRIDGE}/oidc/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT, "client_id": "ekis",
        "code_verifier": verifier,
    })
    assert tokens.status_code == 200, tokens.text
    result: dict[str, Any] = tokens.json()
    return result


async def userinfo(browser: httpx.AsyncClient, tokens: dict[str, Any]) -> int:
    answer = await browser.get(f"{BRIDGE}/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return answer.status_code


async def refreshed(browser: httpx.AsyncClient, tokens: dict[str, Any]) -> httpx.Response:
    return await browser.post(f"{BRIDGE}/oidc/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "ekis",
    })


async def press(
    admin: httpx.AsyncClient, login: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """On the person's card, open `action`'s confirmation page (if it has one) and submit its form."""
    card = await admin.get(f"{BRIDGE}/admin/staff/{login}")
    assert card.status_code == 200, card.text[:500]
    page = card
    if action in ("block", "deactivate", "reset-password"):
        page = await admin.get(f"{BRIDGE}/admin/staff/{login}/{action}")
    form = only_form(page, f"/admin/staff/{login}/{action}")
    done = await admin.post(str(page.url.join(form.action)), data={**form.fields, **(data or {})},
                            follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    return await admin.get(str(page.url.join(done.headers["location"])))


async def test_a_block_ends_the_session_and_the_tokens_at_once_and_unblock_gives_the_sign_in_back(
    world: World,
) -> None:
    people = directory(world)
    async with signed_in(world, NOVIKOV, people.admin, "РСАА") as admin, \
            signed_in(world, SMIRNOVA, people.person) as person:
        tokens = await app_tokens(person)
        assert await userinfo(person, tokens) == 200

        card = await press(admin, people.person, "block", {"reason": "Служебная проверка"})
        assert "Учётная запись заблокирована: все сеансы завершены" in card.text
        assert "Причина: Служебная проверка" in card.text and "Разблокировать" in card.text

        # At once: the browser's session, the access token and the refresh token.
        account = await person.get(f"{BRIDGE}/account")
        assert account.url.path == "/login"
        assert await userinfo(person, tokens) == 401
        again = await refreshed(person, tokens)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

        # No way back in: the bound ESIA account is refused…
        refused = await federated(person, "Госуслуги", SMIRNOVA)
        assert BLOCKED in refused.text and "/account" not in str(refused.url)

    # …and so is a person who never signed in, through the issued password (either order).
    await press_block(world, people.newcomer)
    async with world.browser() as newcomer:
        local = await enter_password(newcomer, await newcomer.get(f"{BRIDGE}/login/first"), people.newcomer)
        assert local.status_code == 400 and BLOCKED in local.text
    async with world.browser() as newcomer:
        bind_page = await sign_in_through(newcomer, "РСАА", KUZNETSOV)
        refused_bind = await enter_password(newcomer, bind_page, people.newcomer)
        assert BLOCKED in refused_bind.text
    assert sorted(login for login, _, _ in world.bindings()) == [people.admin, people.person]

    async with signed_in(world, NOVIKOV, people.admin, "РСАА") as admin:
        card = await press(admin, people.person, "unblock")
        assert "Учётная запись разблокирована" in card.text
    async with world.browser() as person:
        back = await sign_in_through(person, "Госуслуги", SMIRNOVA)
        assert back.url.path == "/account" and "Смирнова" in back.text
        assert await userinfo(person, await app_tokens(person)) == 200
    with world.db() as db:
        events = [event.event for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events.count("staff.blocked") == 2 and events.count("staff.unblocked") == 1
    assert "signin.refused" in events


async def press_block(world: World, login: str) -> None:
    async with signed_in(world, NOVIKOV, "novikov", "РСАА") as admin:
        card = await press(admin, login, "block", {"reason": "Отпуск по уходу за ребёнком"})
        assert "заблокирована" in card.text


async def test_a_deactivation_ends_everything_for_good_and_its_data_goes_after_the_retention(world: World) -> None:
    people = directory(world)
    async with signed_in(world, NOVIKOV, people.admin, "РСАА") as admin, \
            signed_in(world, SMIRNOVA, people.person) as person:
        tokens = await app_tokens(person)
        edited = await admin.get(f"{BRIDGE}/admin/staff/{people.person}/edit")
        form = only_form(edited, "/edit")
        saved = await submit(admin, edited, form, {**form.fields, "surname": "Смирнова-Ветрова"})
        assert "Данные сотрудника сохранены" in saved.text

        confirm = await admin.get(f"{BRIDGE}/admin/staff/{people.person}/deactivate")
        assert "Через 180 дн. персональные данные" in confirm.text
        card = await press(admin, people.person, "deactivate", {"reason": "left"})
        assert "Кабинет отключён" in card.text and "Персональные данные будут удалены" in card.text
        assert "Заблокировать" not in card.text and "Сбросить пароль" not in card.text

        assert (await person.get(f"{BRIDGE}/account")).url.path == "/login"
        assert await userinfo(person, tokens) == 401
        assert (await refreshed(person, tokens)).json()["error"] == "invalid_grant"
        refused = await federated(person, "Госуслуги", SMIRNOVA)
        assert DEACTIVATED in refused.text
        local = await enter_password(person, await person.get(f"{BRIDGE}/login/first"), people.person)
        assert local.status_code == 400 and "/account" not in str(local.url)

    personal = ["Смирнова", "Ветрова", "Елена", "Викторовна", "77356324731", "773-563-247 31",
                "e.smirnova@school1535.ru", "+79161234501", "9161234501"]
    with world.db() as db:
        staff_id = db.scalars(select(StaffMember.id).where(StaffMember.login == people.person)).one()
        audit_before = db.scalars(select(AuditEvent.id)).all()
        assert db.scalars(select(AuditPersonalDetails)).all(), "the edit's old → new is kept beside the audit"
    # Not yet: the retention has not run out.
    policy = RetentionPolicy.of(world.settings.housekeeping, world.settings)
    assert purge_pass(world.db, policy, batch_size=50).counts["staff_members.personal_data"] == 0
    assert any(value in dump for value in personal for dump in every_row(world).values())

    later = utcnow() + timedelta(days=181)
    assert purge_pass(world.db, policy, batch_size=50, now=later).counts["staff_members.personal_data"] == 1
    rows = every_row(world)
    leftovers = {(table, value) for table, dump in rows.items() for value in personal if value in dump}
    assert leftovers == set(), leftovers
    with world.db() as db:
        staff = db.get(StaffMember, staff_id)
        assert staff is not None and staff.login == people.person and staff.personal_data_removed_at is not None
        audit = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    # The audit trail stays whole, naming the person by id and login only.
    assert set(audit_before) <= {event.id for event in audit}
    assert any(event.event == "staff.edited" and event.subject_staff_id == staff_id for event in audit)
    assert audit[-1].event == "staff.personal_data_removed" and audit[-1].actor == "system:housekeeping"
    # A second pass has nothing more to do.
    assert purge_pass(world.db, policy, batch_size=50, now=later).counts["staff_members.personal_data"] == 0
    async with signed_in(world, NOVIKOV, people.admin, "РСАА") as admin:
        removed = await admin.get(f"{BRIDGE}/admin/staff/{people.person}")
        assert removed.status_code == 200 and "Персональные данные (ФИО, СНИЛС, почта, телефон) удалены" in removed.text


def every_row(world: World) -> dict[str, str]:
    """Every table's rows as one text each, JSON columns decoded (so Cyrillic reads as itself)."""
    dumps: dict[str, str] = {}
    with world.db() as db:
        for table in Base.metadata.sorted_tables:
            rows = db.execute(select(table)).all()
            dumps[table.name] = json.dumps([[str(value) for value in row] for row in rows], ensure_ascii=False)
    return dumps
