"""A real headless Chromium through the demo stack on loopback: an account from a registration request.

The applicant files «Заявка на подключение» on the public page; the school's director (first
binding with the one-time password the demo issued) approves it on «Заявки»; the activation
letter is read from the demo's mail sink over its HTTP API; the applicant follows the link, signs
in at the mock Gosuslugi, is bound, confirms the workplace data, and is signed in to the demo
relying app with the role the director gave. Skipped without Chromium, failed instead under CI=true.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from bridge_demo.stack import DemoStack
from tests.e2e.test_browser import chromium, click, served_demo, wait_for_text  # noqa: F401 - a fixture
from tests.support.mail import ArrivedMail, MailReader

pytestmark = pytest.mark.browser

# A person of the mock providers who holds no account in the demo yet.
APPLICANT = {"surname": "Лебедев", "name": "Игорь", "patronymic": "Станиславович",
             "position": "учитель информатики", "email": "i.lebedev@school1535.ru"}
LINK = re.compile(r"http://127\.0\.0\.1:\d+/activate\?token=[A-Za-z0-9_\-]+")


def letter_to(stack: DemoStack, address: str, timeout: float = 30) -> ArrivedMail:
    """The newest letter to `address` in the demo mailbox, read as a tester would (its HTTP API)."""
    with httpx.Client(base_url=stack.mail_url, timeout=5) as http:
        reader = MailReader(http)
        deadline = time.monotonic() + timeout
        while not (arrived := reader.to(address)):
            assert time.monotonic() < deadline, f"no letter to {address} arrived"
            time.sleep(0.2)
        return arrived[0]


def fill(driver, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    for name, value in values.items():
        field = driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)


def at_gosuslugi_as(driver, stack: DemoStack, email: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    wait_for_text(driver, email)
    driver.find_element(By.CSS_SELECTOR, f"button[value='{email}']").click()
    deadline = time.monotonic() + 20
    while driver.current_url.startswith(stack.mock_url) and "Разрешить" not in driver.page_source:
        assert time.monotonic() < deadline, f"stuck at the provider: {driver.current_url}"
        time.sleep(0.1)
    if "Разрешить" in driver.page_source:
        click(driver, "Разрешить")


def file_request(driver, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # From the bridge's sign-in page, as a newcomer finds it.
    driver.get(f"{stack.bridge_url}/login")
    click(driver, "Подайте заявку")
    wait_for_text(driver, "Найдите свою")
    fill(driver, {"q": "СОШ № 12"})
    click(driver, "Найти")
    wait_for_text(driver, "Найдено в реестре")
    click(driver, "СОШ № 12")
    wait_for_text(driver, "Отправить заявку")
    fill(driver, APPLICANT)
    Select(driver.find_element(By.NAME, "requested")).select_by_visible_text("Сотрудник")
    click(driver, "Отправить заявку")
    wait_for_text(driver, "Заявка отправлена")


def director_approves(driver, stack: DemoStack) -> None:  # type: ignore[no-untyped-def]
    """The director's first sign-in (binding with the demo's one-time password), then «Заявки»."""
    from selenium.webdriver.common.by import By

    driver.get(f"{stack.bridge_url}/login")
    click(driver, "Войти через Госуслуги")
    at_gosuslugi_as(driver, stack, stack.person.email)
    wait_for_text(driver, "Привязка учётной записи")
    fill(driver, {"login": stack.director.login, "password": stack.director.password})
    click(driver, "Привязать и войти")
    wait_for_text(driver, "Проверьте данные о месте работы")
    fill(driver, {driver.find_element(By.CSS_SELECTOR, "input[name^='position_']").get_attribute("name"): "директор"})
    click(driver, "Сохранить и продолжить")
    wait_for_text(driver, "Вы вошли")
    driver.get(stack.requests_url)
    wait_for_text(driver, "Лебедев Игорь Станиславович")
    # The demo's own request (Попова) waits there too: approve the one just filed.
    section = next(
        element for element in driver.find_elements(By.CSS_SELECTOR, "section.request")
        if "Лебедев" in element.text
    )
    section.find_element(By.XPATH, ".//button[contains(., 'Одобрить')]").click()
    wait_for_text(driver, "одобрена")
    assert "token=" not in driver.page_source


def test_registration_request_to_the_relying_app_in_chromium(served_demo: DemoStack, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    stack = served_demo
    shots = Path(os.environ.get("BRIDGE_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    applicant = chromium(tmp_path / "applicant")
    director = None
    try:
        file_request(applicant, stack)
        applicant.save_screenshot(str(shots / "registration-1-sent.png"))
        # The director heard of it by mail, naming the organization, not the applicant.
        notice = letter_to(stack, stack.person.email)
        assert notice.subject.startswith("Новая заявка на подключение") and "Лебедев" not in notice.text

        director = chromium(tmp_path / "director")
        director_approves(director, stack)
        director.save_screenshot(str(shots / "registration-2-approved.png"))

        letter = letter_to(stack, APPLICANT["email"])
        assert letter.subject == "Заявка на подключение одобрена"
        [link] = LINK.findall(letter.text)

        applicant.get(link)
        wait_for_text(applicant, "Продолжить через Госуслуги")
        applicant.save_screenshot(str(shots / "registration-3-activation.png"))
        click(applicant, "Продолжить через Госуслуги")
        at_gosuslugi_as(applicant, stack, APPLICANT["email"])
        wait_for_text(applicant, "Проверьте данные о месте работы")
        # The address from the request is there; the position for the role given is the person's to confirm.
        assert APPLICANT["email"] in applicant.page_source
        position = applicant.find_element(By.CSS_SELECTOR, "input[name^='position_']")
        position.clear()
        position.send_keys("учитель информатики")
        applicant.save_screenshot(str(shots / "registration-4-profile.png"))
        click(applicant, "Сохранить и продолжить")
        wait_for_text(applicant, "Вы вошли")

        # Back in the demo relying app: signed in by the bridge session, with the role given.
        applicant.get(stack.app_url)
        click(applicant, "Войти через единый вход")
        wait_for_text(applicant, "Лебедев")
        assert applicant.current_url.startswith(stack.app_url)
        assert "СОШ № 12" in applicant.page_source and "учитель информатики" in applicant.page_source
        applicant.save_screenshot(str(shots / "registration-5-app.png"))
        # The link is spent: opened again, it binds nothing.
        applicant.get(link)
        assert "Продолжить через Госуслуги" not in applicant.page_source
    finally:
        applicant.quit()
        if director is not None:
            director.quit()
