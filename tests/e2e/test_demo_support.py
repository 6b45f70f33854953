"""The demo seeds a technical-support account: a tester signs in with what the banner prints and
reaches support's pages (the work queue, organizations, the audit log), through the real servers."""

from __future__ import annotations

from urllib.parse import urljoin

import httpx

from bridge_demo.stack import DemoStack
from tests.e2e.test_browser import served_demo
from tests.support.html_forms import read_forms

__all__ = ["served_demo"]

MAX_STEPS = 20


def _browse(client: httpx.Client, url: str, *, login: str, password: str, pick: str) -> httpx.Response:
    """Follow the pages as a person does, from `url` until a page asks nothing more of them."""
    response = client.get(url)
    for _ in range(MAX_STEPS):
        if response.is_redirect:
            response = client.get(urljoin(str(response.url), response.headers["location"]))
            continue
        assert response.status_code == 200, f"{response.status_code} at {response.url}: {response.text[:500]}"
        forms = read_forms(response.text)
        picking = [form for form in forms if any(button.name == "pick" for button in form.buttons)]
        if picking:
            data = {**picking[0].fields, "pick": pick}
            form = picking[0]
        elif any(any(b.name == "provider" for b in form.buttons) for form in forms):
            form = next(form for form in forms if any(b.name == "provider" for b in form.buttons))
            data = {**form.fields, "provider": "rsaa"}
        elif any("consent" in form.action for form in forms):
            form = next(form for form in forms if "consent" in form.action)
            data = {**form.fields, "decision": "allow"}
        elif any("password" in form.fields and "login" in form.fields for form in forms):
            form = next(form for form in forms if "password" in form.fields and "login" in form.fields)
            data = form.submission(login=login, password=password)
        elif any(form.action.endswith("/login/profile") for form in forms):
            form = next(form for form in forms if form.action.endswith("/login/profile"))
            data = {name: value or "специалист поддержки" if name.startswith("position_") else value
                    for name, value in form.fields.items()}
            data["action"] = "save"
        else:
            return response
        target = urljoin(str(response.url), form.action)
        response = client.post(target, data=data) if form.method == "post" else client.get(target, params=data)
    raise AssertionError(f"still walking after {MAX_STEPS} pages")


def test_support_signs_in_with_the_banners_login_and_reaches_supports_pages(served_demo: DemoStack) -> None:
    stack = served_demo
    banner = stack.banner()
    support = banner[banner.index("Техническая поддержка"):]
    assert f"логин   {stack.support.login}" in support and f"пароль  {stack.support.password}" in support
    assert stack.support_person.full_name in support and stack.support_person.email in support
    assert stack.support_url in support

    with httpx.Client(timeout=30) as client:
        page = _browse(client, f"{stack.bridge_url}/account", login=stack.support.login,
                       password=stack.support.password, pick=stack.support_person.email)
        assert page.url.path == "/account" and "Белова" in page.text
        pages = {
            stack.support_url: "Обращения в техническую службу",
            f"{stack.bridge_url}{stack.bridge.url_path_for('support_organizations')}": "Реестр организаций",
            f"{stack.bridge_url}{stack.bridge.url_path_for('support_apps')}": "Приложения",
            f"{stack.bridge_url}{stack.bridge.url_path_for('admin_audit')}": "Журнал действий",
        }
        for url, heading in pages.items():
            answer = client.get(url)
            assert answer.status_code == 200 and f"<h1>{heading}</h1>" in answer.text, url
