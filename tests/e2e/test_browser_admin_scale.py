"""The administration lists in a real headless Chromium at desktop width and at 390 px (a phone).

The bridge is served by uvicorn on loopback over this test's database (SQLite and PostgreSQL),
with a district administrator signed in (their sign-in session's cookie set in the browser).
On every list page, at both widths, nothing may be wider than the window: the document's
scrollWidth is at most the viewport's width (issue 11: the admin tables overflowed at 390 px).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from itsdangerous import URLSafeSerializer
from mail_sink.smtp import free_port
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.app import create_app
from bridge.config import Secret, Settings
from bridge.runtime import build_runtime
from bridge.services.housekeeping import HousekeepingSettings
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import Organization, StaffMember
from bridge.web.signin_cookie import signin_cookie_name
from tests.e2e.test_browser import chromium, wait_for_text
from tests.services.directory import build_directory
from tests.support.factories import give_role, make_staff

pytestmark = pytest.mark.browser

WIDTHS = ((1280, 900), (390, 844))


@pytest.fixture
def served_bridge(database_url: str, engine: Engine) -> Iterator[tuple[str, Settings, sessionmaker[Session]]]:
    port = free_port()
    settings = Settings(
        environment="test", secret_key=Secret("browser-secret-key-" + "x" * 32), database_url=database_url,
        public_url=f"http://127.0.0.1:{port}", housekeeping=HousekeepingSettings(interval=None),
    )
    runtime = build_runtime(settings, engine=engine)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime=runtime), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the bridge did not start"
        time.sleep(0.05)
    try:
        yield settings.public_url, settings, runtime.db
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _district_with_long_names(factory: sessionmaker[Session]) -> str:
    directory = build_directory(factory)
    with transaction(factory) as db:
        school = db.get(Organization, directory.orgs["school_a2"])
        assert school is not None
        school.name = "Муниципальное бюджетное общеобразовательное учреждение «Средняя общеобразовательная школа № 2»"
        for number in range(30):
            person = make_staff(
                db, surname=f"Константинопольская-Петропавловская{number}", name="Александра",
                patronymic="Вячеславовна", login=f"konstantinopolskaya_petropavlovskaya_{number}",
            )
            give_role(db, person, school, Role.SCHOOL_DIRECTOR)
    return directory.logins["dept_a"]


def _session_cookie(settings: Settings, factory: sessionmaker[Session], login: str) -> str:
    from datetime import timedelta

    from bridge.services.signin_sessions import SessionKeys, start_signin_session

    with transaction(factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        started = start_signin_session(db, staff, keys=SessionKeys.of(settings.secret_key), provider="esia",
                                       amr=["fed"], acr="urn:edu-bridge:idp:esia",
                                       lifetime=timedelta(hours=1), remember=False)
        started.record.role_assignment_id = staff.roles[0].id
    return URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session").dumps(started.token)


def _overflow(driver) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    width = driver.execute_script("return document.documentElement.scrollWidth")
    viewport = driver.execute_script("return window.innerWidth")
    return int(width), int(viewport)


def test_the_admin_lists_fit_the_window_on_a_desktop_and_on_a_phone(
    served_bridge: tuple[str, Settings, sessionmaker[Session]], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    base, settings, factory = served_bridge
    admin = _district_with_long_names(factory)
    cookie = _session_cookie(settings, factory, admin)
    sheet = tmp_path / "staff.csv"
    sheet.write_text("Фамилия;Имя;Организация;Роль\nКонстантинопольская;Анна;999999;Директор школы\n",
                     encoding="utf-8")
    driver = chromium(tmp_path / "profile")
    try:
        driver.get(base + "/healthz")
        driver.add_cookie({"name": signin_cookie_name(settings), "value": cookie, "path": "/"})
        for width, height in WIDTHS:
            driver.set_window_size(width, height)
            # The window's outer size includes the browser's frame: size the viewport exactly.
            inner = driver.execute_script("return window.innerWidth")
            driver.set_window_size(width + (width - inner), height)
            for path, expected in (("/admin/staff", "Найдено: 33"), ("/admin/staff-import", "Как заполнить"),
                                   ("/admin/requests", "Заявки")):
                driver.get(base + path)
                wait_for_text(driver, expected)
                scroll, viewport = _overflow(driver)
                driver.save_screenshot(str(tmp_path / f"{width}-{path.strip('/').replace('/', '-')}.png"))
                assert viewport == width, (viewport, width)
                assert scroll <= viewport, f"{path} at {width} px is {scroll} px wide"
            driver.get(base + "/admin/staff-import")
            driver.find_element(By.ID, "file").send_keys(str(sheet))
            driver.find_element(By.XPATH, "//button[contains(., 'Проверить файл')]").click()
            wait_for_text(driver, "строк с ошибками")
            scroll, viewport = _overflow(driver)
            assert scroll <= viewport, f"the import report at {width} px is {scroll} px wide"
    finally:
        driver.quit()
