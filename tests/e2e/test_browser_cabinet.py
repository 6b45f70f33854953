"""«Личный кабинет» and «Не могу войти» in a real headless Chromium at 390 px, on the demo stack.

The director binds Госуслуги at the first sign-in, opens the cabinet from the bridge's own pages,
links РСАА (the mock's person is the same there) and comes back to the cabinet; every page fits
a phone's width without scrolling sideways.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bridge_demo.stack import DemoStack
from tests.e2e.test_browser import chromium, click, served_demo, sign_in_at_gosuslugi, wait_for_text

__all__ = ["served_demo"]

pytestmark = pytest.mark.browser

PHONE_WIDTH = 390


def fits_the_phone(driver) -> None:  # type: ignore[no-untyped-def]
    width = driver.execute_script("return document.documentElement.scrollWidth")
    wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1).map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 60))"
    )
    assert width <= PHONE_WIDTH, f"{driver.current_url} is {width} px wide: {wide}"


def test_the_cabinet_links_a_second_provider_on_a_phone(served_demo: DemoStack, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    stack = served_demo
    shots = Path(os.environ.get("BRIDGE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    driver = chromium(tmp_path / "phone")
    # A desktop Chromium keeps its window at least ~500 px wide: emulate the phone's viewport itself.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE_WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        sign_in_at_gosuslugi(driver, stack, shots, "cabinet")
        wait_for_text(driver, "Привязка учётной записи")
        driver.find_element(By.NAME, "login").send_keys(stack.director.login)
        driver.find_element(By.NAME, "password").send_keys(stack.director.password)
        click(driver, "Привязать и войти")
        wait_for_text(driver, "Проверьте данные о месте работы")
        driver.find_element(By.CSS_SELECTOR, "input[name^='position_']").send_keys("директор")
        click(driver, "Сохранить и продолжить")
        # The app's own words: the workplace-data page names the role too, and is still shown while
        # its answer is on the way (a navigation started before that lands would race it).
        wait_for_text(driver, "Вы вошли через единый вход")
        assert "Директор школы" in driver.page_source

        driver.get(stack.bridge_url + "/")
        click(driver, "Личный кабинет")
        wait_for_text(driver, "Сеансы и устройства")
        assert "Морозов" in driver.page_source and "Chrome" in driver.page_source
        fits_the_phone(driver)
        driver.save_screenshot(str(shots / "cabinet-1.png"))

        click(driver, "Привязать РСАА")
        # The person's button at the provider (the cabinet shows their e-mail too: wait for the button).
        person_button = f"button[value='{stack.person.email}']"
        deadline = time.monotonic() + 20
        while not driver.find_elements(By.CSS_SELECTOR, person_button):
            assert time.monotonic() < deadline, f"no provider login page: {driver.current_url}"
            time.sleep(0.1)
        driver.find_element(By.CSS_SELECTOR, person_button).click()
        deadline = time.monotonic() + 20
        while "Способ входа привязан" not in driver.page_source:
            if "Разрешить" in driver.page_source:
                click(driver, "Разрешить")
            assert time.monotonic() < deadline, f"never back in the cabinet: {driver.current_url}"
            time.sleep(0.1)
        assert "Отвязать" in driver.page_source
        fits_the_phone(driver)
        driver.save_screenshot(str(shots / "cabinet-2-linked.png"))

        click(driver, "Попросить отключить мой кабинет")
        wait_for_text(driver, "Попросить отключить кабинет?")
        fits_the_phone(driver)

        driver.get(stack.bridge_url + "/support/cannot-sign-in")
        wait_for_text(driver, "Не могу войти")
        fits_the_phone(driver)
        driver.save_screenshot(str(shots / "support-form.png"))
    finally:
        driver.quit()
