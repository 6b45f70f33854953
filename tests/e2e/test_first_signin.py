"""First sign-in with binding, then external-ID-only sign-in: the real bridge against the real mock."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.world import (
    BRIDGE,
    PASSWORD,
    World,
    choose_provider,
    enter_password,
    sign_in_at_provider,
    sign_in_through,
    submit,
)
from tests.support.html_forms import read_forms

SMIRNOVA = "e.smirnova@school1535.ru"
SMIRNOVA_OID = "1005515483"
KUZNETSOV = "a.kuznetsov@school1535.ru"
REFUSED_PASSWORD = "Неверный логин или пароль"

pytestmark = pytest.mark.anyio


async def test_external_first_with_gosuslugi_binds_and_retires_the_password(world: World) -> None:
    login = world.add_staff(surname="Смирнова", name="Елена", patronymic="Викторовна")
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert bind_page.url.path == "/login/bind"
        # Whom the provider identified, masked: surname, initials, the end of СНИЛС only.
        assert "Смирнова" in bind_page.text and "Е." in bind_page.text and "В." in bind_page.text
        assert "***-***-247 31" in bind_page.text and "773-563" not in bind_page.text
        assert world.bindings() == []

        account = await enter_password(browser, bind_page, login)
        assert account.url.path == "/account"
        assert "Вы вошли" in account.text and "Смирнова Елена Викторовна" in account.text

    assert world.bindings() == [(login, "esia", SMIRNOVA_OID)]
    assert world.staff(login).password_hash is None


async def test_local_first_with_rsaa_binds(world: World) -> None:
    login = world.add_staff(surname="Кузнецов", name="Андрей", patronymic="Николаевич")
    async with world.browser() as browser:
        first = await browser.get(f"{BRIDGE}/login/first")
        assert 'autocomplete="username"' in first.text and 'autocomplete="current-password"' in first.text
        choose = await enter_password(browser, first, login)
        assert choose.url.path == "/login/first/provider"
        assert world.bindings() == []

        at_provider = await choose_provider(browser, choose, "РСАА")
        account = await sign_in_at_provider(browser, at_provider, KUZNETSOV)
        assert account.url.path == "/account" and "Кузнецов Андрей" in account.text

    [(bound_login, provider, _subject)] = world.bindings()
    assert (bound_login, provider) == (login, "rsaa")


async def test_local_first_with_gosuslugi_and_external_first_with_rsaa(world: World) -> None:
    esia_login = world.add_staff(surname="Смирнова", name="Елена")
    rsaa_login = world.add_staff(surname="Кузнецов", name="Андрей")
    async with world.browser() as browser:
        choose = await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), esia_login)
        account = await sign_in_at_provider(browser, await choose_provider(browser, choose, "Госуслуги"), SMIRNOVA)
        assert account.url.path == "/account"
    async with world.browser() as browser:
        bind_page = await sign_in_through(browser, "РСАА", KUZNETSOV)
        assert bind_page.url.path == "/login/bind"
        assert (await enter_password(browser, bind_page, rsaa_login)).url.path == "/account"
    assert sorted((login, provider) for login, provider, _ in world.bindings()) == sorted(
        [(esia_login, "esia"), (rsaa_login, "rsaa")]
    )


async def test_later_sign_in_goes_through_the_provider_only(world: World) -> None:
    login = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as browser:
        await enter_password(browser, await sign_in_through(browser, "Госуслуги", SMIRNOVA), login)

    async with world.browser() as other_device:
        account = await sign_in_through(other_device, "Госуслуги", SMIRNOVA)
        assert account.url.path == "/account", "a bound person is not asked for the local password again"
        assert "Смирнова" in account.text

    async with world.browser() as third:
        first = await third.get(f"{BRIDGE}/login/first")
        refused = await enter_password(third, first, login, PASSWORD)
        assert refused.status_code == 400
        assert REFUSED_PASSWORD in refused.text, "the retired password opens nothing"


async def test_another_persons_external_identity_cannot_take_a_bound_account(world: World) -> None:
    login = world.add_staff(surname="Смирнова", name="Елена")
    async with world.browser() as browser:
        await enter_password(browser, await sign_in_through(browser, "Госуслуги", SMIRNOVA), login)

    async with world.browser() as intruder:
        bind_page = await sign_in_through(intruder, "Госуслуги", KUZNETSOV)
        refused = await enter_password(intruder, bind_page, login, PASSWORD)
        assert refused.status_code == 400 and REFUSED_PASSWORD in refused.text
    assert world.bindings() == [(login, "esia", SMIRNOVA_OID)]


async def test_one_message_for_unknown_login_wrong_password_expired_and_bound(world: World) -> None:
    from datetime import timedelta

    from bridge.storage.types import utcnow

    wrong = world.add_staff(surname="Петров")
    expired = world.add_staff(surname="Орлов")
    bound = world.add_staff(surname="Смирнова")
    with world.db() as db, db.begin():
        from sqlalchemy import update

        from bridge.storage.models import StaffMember

        yesterday = utcnow() - timedelta(days=1)
        db.execute(update(StaffMember).where(StaffMember.login == expired).values(credential_expires_at=yesterday))
    async with world.browser() as browser:
        await enter_password(browser, await sign_in_through(browser, "Госуслуги", SMIRNOVA), bound)

    messages = []
    for login, password in [("nobody", PASSWORD), (wrong, "Wrong-Pass-1!"), (expired, PASSWORD), (bound, PASSWORD)]:
        async with world.browser() as browser:
            page = await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login, password)
            assert page.status_code == 400
            alert = page.text.split('role="alert">', 1)[1].split("</div>", 1)[0]
            messages.append(alert)
    assert len(set(messages)) == 1 and REFUSED_PASSWORD in messages[0]


async def test_one_identity_bound_to_several_logins_at_once_binds_one(world: World) -> None:
    """Browsers holding pending bindings of the same Gosuslugi person each enter another login's
    password at the same instant: one binding is made; the others are refused and keep their password."""
    logins = [world.add_staff(surname="Смирнова", name="Елена") for _ in range(3)]
    browsers = [world.browser() for _ in logins]
    try:
        pages = [await sign_in_through(browser, "Госуслуги", SMIRNOVA) for browser in browsers]
        forms = [next(form for form in read_forms(page.text) if "password" in form.fields) for page in pages]
        answers = await asyncio.gather(*(
            submit(browser, page, form, form.submission(login=login, password=PASSWORD))
            for browser, page, form, login in zip(browsers, pages, forms, logins, strict=True)
        ))
    finally:
        for browser in browsers:
            await browser.aclose()
    assert sorted(answer.status_code for answer in answers) == [200, 400, 400]
    [(bound, provider, subject)] = world.bindings()
    assert (provider, subject) == ("esia", SMIRNOVA_OID)
    assert [world.staff(login).password_hash is None for login in logins] == [login == bound for login in logins]
