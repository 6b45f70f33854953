"""A real headless Chromium through the demo stack served by uvicorn on loopback.

First sign-in (the relying app → bridge → Gosuslugi → bind with the one-time password → back at
the app with role and organization), then a later sign-in from a fresh browser, which goes
through Gosuslugi only, and a sign-out at the bridge that the app hears of (back-channel logout).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from mail_sink.smtp import free_ports, smtp_controller

from bridge_demo.stack import DemoStack, prepare_demo

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"



@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[DemoStack]:
    bridge_port, mock_port, app_port, mail_port, smtp_port = free_ports(5)
    stack = prepare_demo(tmp_path, bridge_port=bridge_port, mock_port=mock_port, app_port=app_port,
                         mail_port=mail_port, smtp_port=smtp_port)
    servers = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=int(url.rsplit(":", 1)[1]), log_level="warning"))
        for app, url in ((stack.bridge, stack.bridge_url), (stack.mock, stack.mock_url),
                         (stack.relying_app, stack.app_url), (stack.mail_sink, stack.mail_url))
    ]
    smtp = smtp_controller(stack.mailbox, port=stack.smtp_port)
    smtp.start()

    async def serve() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not all(server.started for server in servers):
        assert time.monotonic() < deadline, "the demo servers did not start"
        time.sleep(0.05)
    try:
        yield stack
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=10)
        smtp.stop()


def chromium(profile: Path):  # type: ignore[no-untyped-def]
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = "Debian's chromium and chromium-driver are not installed"
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail(message + " (CI=true: .ci/run installs them)")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        # A phone-sized window: the sign-in pages must work there.
        "--window-size=390,844",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def click(driver, text: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    candidates = driver.find_elements(By.XPATH, f"//*[self::a or self::button][contains(normalize-space(.), '{text}')]")
    assert candidates, f"nothing to click with {text!r} on {driver.current_url}:\n{driver.page_source[:800]}"
    candidates[0].click()


def wait_for_text(driver, text: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while text not in driver.page_source:
        page = driver.page_source[:1500]
        assert time.monotonic() < deadline, f"{text!r} never appeared at {driver.current_url}:\n{page}"
        time.sleep(0.1)


def sign_in_at_gosuslugi(driver, stack: DemoStack, shots: Path, prefix: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver.get(stack.app_url)
    click(driver, "Войти через единый вход")
    wait_for_text(driver, "Войти через Госуслуги")
    driver.save_screenshot(str(shots / f"{prefix}-1-bridge-login.png"))
    click(driver, "Войти через Госуслуги")
    wait_for_text(driver, stack.person.email)
    driver.find_element(By.CSS_SELECTOR, f"button[value='{stack.person.email}']").click()
    # Gosuslugi asks for consent once per person and system; later sign-ins skip it.
    deadline = time.monotonic() + 20
    while driver.current_url.startswith(stack.mock_url) and "Разрешить" not in driver.page_source:
        assert time.monotonic() < deadline, f"stuck at the provider: {driver.current_url}"
        time.sleep(0.1)
    if "Разрешить" in driver.page_source:
        click(driver, "Разрешить")


def test_first_sign_in_then_later_sign_in_in_chromium(served_demo: DemoStack, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    stack = served_demo
    shots = Path(os.environ.get("BRIDGE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    driver = chromium(tmp_path / "first-device")
    try:
        sign_in_at_gosuslugi(driver, stack, shots, "first")
        wait_for_text(driver, "Привязка учётной записи")
        assert "Морозов" in driver.page_source
        driver.save_screenshot(str(shots / "first-2-bind.png"))
        driver.find_element(By.NAME, "login").send_keys(stack.director.login)
        driver.find_element(By.NAME, "password").send_keys(stack.director.password)
        click(driver, "Привязать и войти")
        # Right after the binding: the workplace data, the position still to fill in.
        wait_for_text(driver, "Проверьте данные о месте работы")
        driver.save_screenshot(str(shots / "first-3-profile.png"))
        position = driver.find_element(By.CSS_SELECTOR, "input[name^='position_']")
        position.send_keys("директор")
        click(driver, "Сохранить и продолжить")
        # The app's own words: the workplace-data page names the role too, and is still shown while
        # its answer is on the way (a navigation started before that lands would race it).
        wait_for_text(driver, "Вы вошли через единый вход")
        assert "Директор школы" in driver.page_source
        assert "директор" in driver.page_source
        assert driver.current_url.startswith(stack.app_url)
        assert "СОШ № 12" in driver.page_source and "Морозов" in driver.page_source
        driver.save_screenshot(str(shots / "first-4-app.png"))
    finally:
        driver.quit()

    later = chromium(tmp_path / "second-device")
    try:
        sign_in_at_gosuslugi(later, stack, shots, "later")
        wait_for_text(later, "Директор школы")
        assert later.current_url.startswith(stack.app_url), "no password asked: straight back to the app"
        assert "Привязка" not in later.page_source

        # Signing out at the bridge reaches the app server to server (back-channel logout): its page,
        # reloaded, no longer shows the person.
        later.get(f"{stack.bridge_url}/account")
        click(later, "Выйти")
        wait_for_text(later, "Войти через Госуслуги")
        deadline = time.monotonic() + 20
        later.get(stack.app_url)
        while "Войти через единый вход" not in later.page_source:
            assert time.monotonic() < deadline, "the app never heard of the sign-out"
            time.sleep(0.2)
            later.get(stack.app_url)
        assert "Морозов" not in later.page_source
    finally:
        later.quit()
