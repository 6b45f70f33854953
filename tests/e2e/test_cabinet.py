"""«Личный кабинет» through the real apps: the person's own page, linking and unlinking, sessions.

The person binds Госуслуги at the first sign-in, then links РСАА from the cabinet (the mock's
test person is the same on both), removes one of the two, ends sessions of other browsers. The
attacks: a link callback replayed or carried to another browser, a link whose name does not
match, someone else's session id in «Завершить», the last binding removed.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bridge.services.session_devices import SHOWN_SESSIONS
from bridge.services.signin_sessions import start_signin_session
from bridge.storage.models import AuditEvent, OutgoingMail, RefreshToken, SignInSession, StaffMember
from tests.e2e.test_upstream_binding import KUZNETSOV, SMIRNOVA, query_of
from tests.e2e.world import (
    BRIDGE,
    World,
    enter_password,
    only_form,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.browser import TEST_SESSION_KEYS
from tests.support.html_forms import read_forms

pytestmark = pytest.mark.anyio

CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def audit(world: World, event: str) -> list[dict[str, Any]]:
    with world.db() as db:
        return [row.details for row in db.scalars(select(AuditEvent).where(AuditEvent.event == event))]


def providers_of(world: World, login: str) -> list[str]:
    return sorted(provider for bound, provider, _ in world.bindings() if bound == login)


def letters(world: World, kind: str) -> list[str]:
    with world.db() as db:
        return list(db.scalars(select(OutgoingMail.recipient).where(OutgoingMail.kind == kind)))


async def signed_in_smirnova(world: World, browser: httpx.AsyncClient, login: str | None = None) -> str:
    """Смирнова binds Госуслуги at her first sign-in (or, bound already, signs in again)."""
    if login is None:
        login = world.add_staff(surname="Смирнова", name="Елена")
        with world.db() as db, db.begin():
            db.scalars(select(StaffMember).where(StaffMember.login == login)).one().email = "smirnova@school.test"
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        page = await enter_password(browser, page, login)
    else:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
    assert page.url.path == "/account", page.text[:500]
    return login


async def press_link(browser: httpx.AsyncClient, title: str) -> httpx.Response:
    """On the cabinet, press «Привязать <title>»: lands at the provider's login page."""
    cabinet = await browser.get(f"{BRIDGE}/cabinet")
    form = only_form(cabinet, "/cabinet/link")
    return await submit(browser, cabinet, form, form.submission(f"Привязать {title}"))


async def link_callback(browser: httpx.AsyncClient, email: str) -> str:
    """Press «Привязать РСАА» and sign in at the provider, stopping before the answer reaches the bridge."""
    cabinet = await browser.get(f"{BRIDGE}/cabinet")
    form = only_form(cabinet, "/cabinet/link")
    started = await browser.post(str(cabinet.url.join(form.action)), data=form.submission("Привязать РСАА"),
                                 follow_redirects=False)
    assert started.status_code == 303, started.text[:300]
    step = await browser.get(started.headers["location"], follow_redirects=False)
    for _ in range(10):
        if step.status_code in (302, 303):
            target = step.url.join(step.headers["location"])
            if target.host == "bridge.test":
                return str(target)
            step = await browser.get(target, follow_redirects=False)
            continue
        forms = read_forms(step.text)
        persons = [f for f in forms if any(button.name == "pick" for button in f.buttons)]
        consent = [f for f in forms if "consent" in f.action]
        chosen, data = (persons[0], {"pick": email}) if persons else (consent[0], {"decision": "allow"})
        step = await browser.post(step.url.join(chosen.action), data={**chosen.fields, **data},
                                  follow_redirects=False)
    raise AssertionError("the provider never answered")


async def test_cabinet_shows_who_i_am_my_roles_bindings_and_this_device(world: World) -> None:
    async with world.browser(headers={"user-agent": CHROME_ANDROID}) as browser:
        login = await signed_in_smirnova(world, browser)
        cabinet = await browser.get(f"{BRIDGE}/cabinet")
    assert cabinet.status_code == 200
    text = cabinet.text
    assert "Личный кабинет" in text and "Смирнова Елена" in text and login in text
    assert "Директор школы" in text and "Эту роль получают приложения при этом входе" in text
    assert "Госуслуги (ЕСИА)" in text and "привязан" in text
    assert "Chrome 120, Android" in text and "203.0.113.7" in text and "этот сеанс" in text
    assert "Привязать РСАА" in text
    # The only binding: nothing offers to remove it.
    assert "Отвязать" not in text


async def test_cabinet_needs_a_sign_in(world: World) -> None:
    async with world.browser() as browser:
        page = await browser.get(f"{BRIDGE}/cabinet", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_a_second_provider_is_linked_after_its_round_trip(world: World) -> None:
    async with world.browser() as browser:
        login = await signed_in_smirnova(world, browser)
        at_provider = await press_link(browser, "РСАА")
        back = await sign_in_at_provider(browser, at_provider, SMIRNOVA, through_profile=False)
        assert back.url.path == "/cabinet", back.text[:500]
        assert "Способ входа привязан" in back.text
        assert "Отвязать" in back.text
    assert providers_of(world, login) == ["esia", "rsaa"]
    assert [details["flow"] for details in audit(world, "binding.created")] == ["external_first", "link"]
    # Both bindings were mailed to the person (the existing notice).
    assert letters(world, "binding_created") == ["smirnova@school.test", "smirnova@school.test"]
    # And the new provider opens the same account.
    async with world.browser() as other:
        page = await sign_in_through(other, "РСАА", SMIRNOVA)
        assert page.url.path == "/account"
        assert "Смирнова" in (await other.get(f"{BRIDGE}/cabinet")).text


async def test_a_link_whose_name_does_not_match_is_refused_and_administrators_are_told(world: World) -> None:
    async with world.browser() as browser:
        login = await signed_in_smirnova(world, browser)
        at_provider = await press_link(browser, "РСАА")
        refused = await sign_in_at_provider(browser, at_provider, KUZNETSOV, through_profile=False)
    assert refused.status_code == 400
    assert "не совпадают с карточкой" in refused.text
    assert providers_of(world, login) == ["esia"]
    assert [details["reason"] for details in audit(world, "binding.refused")] == ["identity_mismatch"]
    assert [details["reason"] for details in audit(world, "security.alert")] == ["identity_mismatch"]


async def test_an_identity_bound_to_someone_else_is_refused(world: World) -> None:
    kuznetsov = world.add_staff(surname="Кузнецов", name="Андрей")
    async with world.browser() as browser:
        page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert (await enter_password(browser, page, kuznetsov)).url.path == "/account"
    # Smirnova's card says Кузнецов Андрей too (a typo an attacker would love): the name matches,
    # but the identity is someone else's.
    async with world.browser() as browser:
        login = world.add_staff(surname="Кузнецов", name="Андрей")
        page = await sign_in_through(browser, "Госуслуги", KUZNETSOV)
        assert (await enter_password(browser, page, login)).url.path == "/account"
        at_provider = await press_link(browser, "РСАА")
        refused = await sign_in_at_provider(browser, at_provider, KUZNETSOV, through_profile=False)
    assert refused.status_code == 400 and "уже привязана к другому сотруднику" in refused.text
    assert providers_of(world, login) == ["esia"]
    assert "identity_bound_to_another" in [details["reason"] for details in audit(world, "security.alert")]


async def test_a_link_callback_replayed_or_carried_to_another_browser_binds_nothing(world: World) -> None:
    async with world.browser() as browser:
        login = await signed_in_smirnova(world, browser)
        callback = await link_callback(browser, SMIRNOVA)
        # Another browser (the attacker's, signed in as someone else or nobody) presents it first.
        async with world.browser(address="198.51.100.9") as attacker:
            stolen = await attacker.get(callback)
        assert stolen.status_code == 400 and "Время ожидания" in stolen.text
        # The victim's own browser still has its step: the real answer binds.
        done = await browser.get(callback)
        assert done.url.path == "/cabinet" and "Способ входа привязан" in done.text
        # Replayed in the same browser: the step is gone.
        replayed = await browser.get(callback)
        assert replayed.status_code == 400
    assert providers_of(world, login) == ["esia", "rsaa"]
    assert query_of(callback)["state"]


async def test_a_link_finished_after_its_session_ended_binds_nothing(world: World) -> None:
    """The round trip's step is still there, but the session that started it was ended elsewhere."""
    async with world.browser() as browser, world.browser(address="198.51.100.50") as other:
        login = await signed_in_smirnova(world, browser)
        callback = await link_callback(browser, SMIRNOVA)
        await signed_in_smirnova(world, other, login)
        cabinet = await other.get(f"{BRIDGE}/cabinet")
        others = only_form(cabinet, "/cabinet/sessions/end-others")
        await submit(other, cabinet, others, others.fields)
        late = await browser.get(callback)
    assert late.status_code == 400 and "Время ожидания привязки истекло" in late.text
    assert providers_of(world, login) == ["esia"]
    assert "link_no_session" in [details["reason"] for details in audit(world, "binding.refused")]


async def test_unlinking_one_of_two_and_never_the_last(world: World) -> None:
    async with world.browser() as browser:
        login = await signed_in_smirnova(world, browser)
        await sign_in_at_provider(browser, await press_link(browser, "РСАА"), SMIRNOVA, through_profile=False)
        confirm = await browser.get(f"{BRIDGE}/cabinet/bindings/rsaa/unlink")
        assert "Отвязать РСАА?" in confirm.text
        form = only_form(confirm, "/cabinet/bindings/rsaa/unlink")
        done = await submit(browser, confirm, form, form.fields)
        assert done.url.path == "/cabinet" and "Привязка удалена" in done.text
        assert providers_of(world, login) == ["esia"]
        assert letters(world, "binding_removed") == ["smirnova@school.test"]
        # The last one: the page explains and offers no button; a forged POST is refused.
        last = await browser.get(f"{BRIDGE}/cabinet/bindings/esia/unlink")
        assert "единственный способ входа" in last.text
        assert not [f for f in read_forms(last.text) if "unlink" in f.action]
        token = only_form(await browser.get(f"{BRIDGE}/cabinet"), "/logout").fields["csrf_token"]
        forged = await browser.post(f"{BRIDGE}/cabinet/bindings/esia/unlink", data={"csrf_token": token})
        assert forged.status_code == 400 and "единственный способ входа" in forged.text
    assert providers_of(world, login) == ["esia"]


async def test_ending_another_device_and_all_but_this_one(world: World) -> None:
    async with (
        world.browser(headers={"user-agent": CHROME_ANDROID}) as phone,
        world.browser(address="198.51.100.20", headers={"user-agent": FIREFOX_WINDOWS}) as desktop,
        world.browser(address="198.51.100.21") as laptop,
    ):
        login = await signed_in_smirnova(world, phone)
        await signed_in_smirnova(world, desktop, login)
        await signed_in_smirnova(world, laptop, login)
        cabinet = await phone.get(f"{BRIDGE}/cabinet")
        assert "Firefox 121, Windows" in cabinet.text and "198.51.100.20" in cabinet.text
        with world.db() as db:
            desktop_sid = db.scalars(
                select(SignInSession.sid).where(SignInSession.address == "198.51.100.20")
            ).one()
        end_forms = [f for f in read_forms(cabinet.text) if f.action.endswith("/cabinet/sessions/end")]
        form = next(f for f in end_forms if f.fields["sid"] == desktop_sid)
        done = await submit(phone, cabinet, form, form.fields)
        assert done.url.path == "/cabinet" and "Сеанс завершён" in done.text
        assert (await desktop.get(f"{BRIDGE}/cabinet")).url.path == "/login"
        assert (await laptop.get(f"{BRIDGE}/cabinet")).url.path == "/cabinet"
        others = only_form(done, "/cabinet/sessions/end-others")
        after = await submit(phone, done, others, others.fields)
        assert "Все сеансы, кроме этого, завершены" in after.text
        assert (await laptop.get(f"{BRIDGE}/cabinet")).url.path == "/login"
        assert (await phone.get(f"{BRIDGE}/cabinet")).url.path == "/cabinet"
    assert len(audit(world, "signin.own_sessions_ended")) == 2


async def test_someone_elses_session_id_is_refused(world: World) -> None:
    async with world.browser() as victim, world.browser(address="198.51.100.30") as attacker:
        await signed_in_smirnova(world, victim)
        kuznetsov = world.add_staff(surname="Кузнецов", name="Андрей")
        page = await sign_in_through(attacker, "РСАА", KUZNETSOV)
        assert (await enter_password(attacker, page, kuznetsov)).url.path == "/account"
        with world.db() as db:
            victim_id = db.scalars(select(StaffMember.id).where(StaffMember.surname == "Смирнова")).one()
            victim_sid = db.scalars(select(SignInSession.sid).where(SignInSession.staff_id == victim_id)).one()
        cabinet = await attacker.get(f"{BRIDGE}/cabinet")
        token = only_form(cabinet, "/logout").fields["csrf_token"]
        forged = await attacker.post(f"{BRIDGE}/cabinet/sessions/end", data={"csrf_token": token, "sid": victim_sid})
        assert forged.status_code == 404 and "Такого сеанса нет" in forged.text
        assert (await victim.get(f"{BRIDGE}/cabinet")).url.path == "/cabinet"
    [refusal] = audit(world, "issuance.refused")
    assert refusal["reason"] == "unknown_session"


async def test_ending_a_session_revokes_the_refresh_tokens_issued_in_it(world: World) -> None:
    async with world.browser() as phone, world.browser(address="198.51.100.40") as desktop:
        login = await signed_in_smirnova(world, phone)
        await signed_in_smirnova(world, desktop, login)
        with world.db() as db, db.begin():
            session = db.scalars(select(SignInSession).where(SignInSession.address == "198.51.100.40")).one()
            kept = db.scalars(select(SignInSession).where(SignInSession.address == "203.0.113.7")).one()
            for record in (session, kept):
                db.add(RefreshToken(
                    token_hash=secrets.token_hex(32), family=str(uuid.uuid4()), client_id="demo",
                    staff_id=record.staff_id, signin_session_id=record.id, scope="openid",
                    auth_time=record.auth_time, expires_at=record.expires_at,
                ))
            desktop_sid, phone_id = session.sid, kept.id
        cabinet = await phone.get(f"{BRIDGE}/cabinet")
        form = next(f for f in read_forms(cabinet.text) if f.fields.get("sid") == desktop_sid)
        await submit(phone, cabinet, form, form.fields)
    with world.db() as db:
        tokens = db.scalars(select(RefreshToken)).all()
        assert {token.signin_session_id == phone_id: token.revoked_at is None for token in tokens} == {
            True: True, False: False,
        }


async def test_a_person_with_many_sessions_sees_the_latest_and_ends_them_all(world: World) -> None:
    """Sign-ins from fresh browsers leave many live sessions: the page lists the most recently seen
    ones and counts the rest (its size does not grow with them), and «all but this one» ends them all."""
    async with world.browser() as phone:
        login = await signed_in_smirnova(world, phone)
        with world.db() as db, db.begin():
            staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
            for _ in range(SHOWN_SESSIONS + 5):
                start_signin_session(db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["fed"], acr=None,
                                     lifetime=timedelta(hours=12), remember=False)
        cabinet = await phone.get(f"{BRIDGE}/cabinet")
        end_forms = [f for f in read_forms(cabinet.text) if f.action.endswith("/cabinet/sessions/end")]
        assert len(end_forms) == SHOWN_SESSIONS - 1  # the current one has no «end» button
        assert "ещё действующих сеансов: 6" in cabinet.text
        others = only_form(cabinet, "/cabinet/sessions/end-others")
        after = await submit(phone, cabinet, others, others.fields)
    assert "Все сеансы, кроме этого, завершены" in after.text
    with world.db() as db:
        live = db.scalars(select(SignInSession).where(SignInSession.ended_at.is_(None))).all()
    assert len(live) == 1
