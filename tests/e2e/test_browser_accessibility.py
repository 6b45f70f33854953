"""axe-core finds nothing on the pages a person meets, in a real Chromium at desktop and phone width.

The demo stack served by uvicorn on loopback (the fixture of test_browser.py); the sign-in page, the
error pages, the public request form, the administrator's staff list and audit log, and technical
support's registry, apps, keys. At 390 px nothing may be wider than the screen either. The
administrators' browsers are given a sign-in session directly: the sign-in ceremony itself is
test_browser.py's subject.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from bridge.services.roles import OrganizationKind, Role
from bridge.services.signin_sessions import SessionKeys, start_signin_session
from bridge.storage.models import StaffMember
from bridge.web.signin_cookie import signin_cookie_name
from bridge_demo.stack import DemoStack
from tests.e2e.test_browser import chromium, click, served_demo, wait_for_text  # noqa: F401 (the fixture, shared)
from tests.support.axe import axe_violations, described
from tests.support.factories import give_role, make_organization, make_staff

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
PUBLIC_PAGES = ["/login", "/login/first", "/register", "/oidc/authorize?client_id=nobody&response_type=code",
                "/no-such-page"]
ADMIN_PAGES = ["/admin/staff", "/admin/staff/new", "/admin/audit", "/admin/requests", "/account"]
SUPPORT_PAGES = ["/support/organizations", "/support/organizations/new", "/support/organizations/import",
                 "/support/organizations/1", "/support/apps", "/support/apps/new", "/support/apps/kontingent-demo",
                 "/support/keys", "/support/keys/rotate", "/admin/audit", "/support/organizations?done=created",
                 "/support/apps/kontingent-demo/secret", "/support/apps/kontingent-demo/secret/gone"]


def _session_cookie(stack: DemoStack, login: str) -> tuple[str, str]:
    """A sign-in session for `login` in its first role, as the cookie a browser would hold."""
    runtime = stack.bridge.state.runtime
    settings = stack.bridge.state.settings
    with runtime.db() as db, db.begin():
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        started = start_signin_session(
            db, staff, keys=SessionKeys.of(settings.secret_key), provider="esia", amr=["fed"],
            acr="urn:edu-bridge:idp:esia", lifetime=settings.session_ttl, remember=False,
        )
        started.record.role_assignment_id = staff.roles[0].id
    serializer = URLSafeSerializer(str(settings.secret_key), salt="bridge.signin-session")
    return signin_cookie_name(settings), serializer.dumps(started.token)


def _support_login(stack: DemoStack) -> str:
    with stack.bridge.state.runtime.db() as db, db.begin():
        support = make_organization(db, name="Техническая поддержка", kind=OrganizationKind.SUPPORT, district="")
        person = make_staff(db, surname="Поддержкина", name="Ольга", login="support_olga")
        give_role(db, person, support, Role.SUPPORT)
        return person.login


def _check(driver, url: str, width: str, *, load: bool = True) -> list[str]:  # type: ignore[no-untyped-def]
    """axe's violations on `url` (loaded, or already shown when `load` is false), and any overflow at 390 px."""
    if load:
        driver.get(url)
    problems = []
    assert "Внутренняя ошибка" not in driver.page_source, url
    violations = axe_violations(driver)
    if violations:
        problems.append(f"{url} at {width}:\n{described(violations)}")
    if width == "phone":
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems.append(f"{url} at {width}: {overflow} px wider than the screen")
    return problems


def test_no_accessibility_violations_at_desktop_and_phone_width(
    served_demo: DemoStack, tmp_path: Path  # noqa: F811 (the fixture imported above)
) -> None:
    stack = served_demo
    sessions = {
        "public": None,
        "department": _session_cookie(stack, stack.department_head.login),
        "support": _session_cookie(stack, _support_login(stack)),
    }
    # The director's card with a notice over it (the green «done» message).
    card = f"/admin/staff/{stack.director.login}"
    pages = {
        "public": PUBLIC_PAGES, "department": [*ADMIN_PAGES, card, card + "?done=edited"], "support": SUPPORT_PAGES,
    }
    problems: list[str] = []
    driver = chromium(tmp_path / "axe")
    try:
        for width, (x, y) in WIDTHS.items():
            driver.set_window_size(x, y)
            for who, cookie in sessions.items():
                driver.delete_all_cookies()
                if cookie is not None:
                    driver.get(stack.bridge_url + "/healthz")
                    driver.add_cookie({"name": cookie[0], "value": cookie[1], "path": "/"})
                for path in pages[who]:
                    problems += _check(driver, stack.bridge_url + path, width)
            # The demo relying app's start page, where a newcomer begins, and the mock providers' pages.
            problems += _check(driver, stack.app_url + "/", width)
            problems += _check(driver, stack.mock_url + "/_mock/", width)
            # The mock Gosuslugi's chooser of test persons, reached as a person reaches it.
            driver.delete_all_cookies()
            driver.get(stack.bridge_url + "/login")
            click(driver, "Войти через Госуслуги")
            wait_for_text(driver, stack.person.email)
            problems += _check(driver, driver.current_url, width, load=False)
        # «Запомнить меня» is read before the provider buttons, which submit the form.
        driver.delete_all_cookies()
        driver.get(stack.bridge_url + "/login")
        assert driver.execute_script(
            "const remember = document.querySelector('input[name=remember]');"
            "const buttons = [...document.querySelectorAll('button[name=provider]')];"
            "return buttons.length > 0 && buttons.every(b =>"
            " remember.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);"
        )
    finally:
        driver.quit()
    assert not problems, "\n\n".join(problems)
