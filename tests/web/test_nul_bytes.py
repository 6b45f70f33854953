"""A NUL byte anywhere a request carries text: refused at the edge, never a 500.

PostgreSQL refuses a NUL byte in any text parameter of a query (psycopg's DataError): before the
edge check (bridge/web/text_guard.py), each field that reached a query with one gave a 500 there.
The route table is read, not listed here: a route added tomorrow is probed too. Every route is
probed by two signed-in staff (an administrator and technical support) and a stranger, with a NUL
in its path parameters, in its query string (an unknown parameter and every parameter the code
reads), and in its POST form (every field the bridge's code or pages name, each alone, beside a
valid CSRF token).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.storage.models import StaffMember
from tests.routes.test_csrf import database_snapshot
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser

BRIDGE_SOURCE = Path(__file__).resolve().parents[2] / "bridge"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REFUSED = "В запросе недопустимые символы"
NUL = "\x00"


def _names(pattern: str, globs: tuple[str, ...]) -> list[str]:
    found: set[str] = set()
    for glob in globs:
        for path in BRIDGE_SOURCE.glob(glob):
            found.update(re.findall(pattern, path.read_text(encoding="utf-8")))
    return sorted(found)


# Every query parameter and form field the bridge reads by name, or its pages send.
READ = r"""(?:query_params|form|query|params)\s*(?:\.get(?:list)?\(\s*|\[\s*)["']([a-z_]+)["']"""
QUERY_NAMES = _names(READ, ("routes/*.py", "web/*.py", "op/*.py"))
FORM_NAMES = sorted({*QUERY_NAMES, *_names(r'name="([a-z_]+)"', ("templates/**/*.html",))} - {"csrf_token"})
# Each at once: a NUL in one field the route validates first must not hide one in a field it queries.
ALL_QUERY = "&".join(f"{name}=a%00" for name in QUERY_NAMES)
ALL_FORM = {name: "1" + NUL for name in FORM_NAMES}


def _path(template: str, directory: Directory, poisoned: str | None = None) -> str:
    """The route's path, its parameters filled with a real target, `poisoned` with a NUL byte."""

    def fill(match: re.Match[str]) -> str:
        name, convertor = match.group(1), match.group(2)
        if name == poisoned:
            return "%00"
        if convertor in (":int", ":id"):
            return "1"
        return {"provider": "esia", "client_id": "kontingent"}.get(name, directory.logins["director_a"])

    return re.sub(r"\{([a-z_]+)(:[a-z]+)?\}", fill, template)


def _sign_in(client: TestClient, app: Starlette, directory: Directory, db_factory: sessionmaker[Session],
             who: str) -> str:
    """A fresh browser of `who` (a sign-out probed before ends the last one); returns its CSRF token."""
    client.cookies.clear()
    if who != "stranger":
        with db_factory() as db:
            staff = db.scalars(select(StaffMember).where(StaffMember.login == directory.logins[who])).one()
            role = staff.roles[0]
            db.expunge_all()
        sign_in_browser(client, app.state.settings, db_factory, staff.id, role)
    match = CSRF.search(client.get("/login/first").text)
    assert match is not None
    return match.group(1)


@pytest.fixture
def browser(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://bridge.test", raise_server_exceptions=False) as client:
        yield client


def probe(app: Starlette, db_factory: sessionmaker[Session], client: TestClient) -> dict[str, list[str]]:
    """Every request carrying a NUL byte, by how it was answered: '500', 'refused' or 'other'.

    Each route is probed by a fresh sign-in: one probed before may have signed its browser out."""
    answers: dict[str, list[str]] = {"500": [], "refused": [], "other": []}

    def record(who: str, method: str, url: str, response: object, what: str) -> None:
        status = getattr(response, "status_code", 0)
        text = getattr(response, "text", "")
        refused = status == 400 and (REFUSED in text or "invalid_request" in text)
        key = "500" if status >= 500 else "refused" if refused else "other"
        answers[key].append(f"{who} {method} {url} {what} -> {status}")

    directory = build_directory(db_factory)
    for who in ("dept_a", "support_staff", "stranger"):
        for route in app.routes:
            if not isinstance(route, Route):
                continue
            token = _sign_in(client, app, directory, db_factory, who)
            # A NUL cannot match a number's convertor (a 404 before any route): text parameters only.
            params = re.findall(r"\{([a-z_]+)\}", route.path)
            for method in sorted((route.methods or set()) & {"GET", "POST"}):
                path = _path(route.path, directory)
                sent = {"csrf_token": token}
                for param in params:
                    poisoned = _path(route.path, directory, param)
                    answer = client.request(method, poisoned, data=sent, follow_redirects=False)
                    record(who, method, poisoned, answer, "path")
                for query in ("x=%00", ALL_QUERY):
                    answer = client.request(method, f"{path}?{query}", data=sent, follow_redirects=False)
                    record(who, method, f"{path}?{query}", answer, "query")
                if method == "POST":
                    answer = client.post(path, data={**sent, **ALL_FORM}, follow_redirects=False)
                    record(who, method, path, answer, "form")
                    # A script's way: the token as a header, the form without it.
                    answer = client.post(path, data=ALL_FORM, headers={"X-CSRF-Token": token}, follow_redirects=False)
                    record(who, method, path, answer, "form (header token)")
    return answers


def test_no_route_answers_a_nul_byte_with_a_500(
    app: Starlette, db_factory: sessionmaker[Session], browser: TestClient
) -> None:
    answers = probe(app, db_factory, browser)
    assert answers["500"] == []
    # Refused at the edge, the same way everywhere: nothing else, not even a 404, answers first.
    assert answers["other"] == []


def _admin(client: TestClient, db_factory: sessionmaker[Session], who: str = "dept_a") -> tuple[Directory, str]:
    directory = build_directory(db_factory)
    app = client.app
    assert isinstance(app, Starlette)
    return directory, _sign_in(client, app, directory, db_factory, who)


def test_a_page_form_with_a_nul_is_refused_in_russian_and_changes_nothing(
    app: Starlette, db_factory: sessionmaker[Session], browser: TestClient
) -> None:
    directory, token = _admin(browser, db_factory)
    before = database_snapshot(db_factory)
    target = directory.logins["director_a"]
    for field in ("reason", "csrf_token"):
        form = {"csrf_token": token, "reason": "уволен", field: "уволен\x00"}
        page = browser.post(f"/admin/staff/{target}/block", data=form, follow_redirects=False)
        assert page.status_code == 400 and REFUSED in page.text and "<html" in page.text, field
        machine = browser.post(f"/admin/staff/{target}/block", data=form, headers={"Accept": "application/json"})
        assert machine.status_code == 400 and machine.json()["error"] == "invalid_request"
    assert database_snapshot(db_factory) == before
    # Tabs and newlines are free text's own (an address, a comment): only NUL is refused.
    free_text = {"csrf_token": token, "reason": "уволен\r\n\tпо собственному"}
    kept = browser.post(f"/admin/staff/{target}/block", data=free_text, follow_redirects=False)
    assert kept.status_code == 303, kept.text[:300]


def test_a_search_with_a_nul_is_refused_and_the_text_percent_zero_zero_is_not(
    app: Starlette, db_factory: sessionmaker[Session], browser: TestClient
) -> None:
    _admin(browser, db_factory, "support_staff")
    for path in ("/admin/staff", "/admin/audit", "/support/organizations"):
        page = browser.get(f"{path}?q=%D0%B0%00")
        assert page.status_code == 400 and REFUSED in page.text, path
        # Typed "%00" arrives as %2500: text, not a NUL.
        assert browser.get(f"{path}?q=%2500").status_code == 200, path


def test_an_uploaded_file_is_not_refused_for_the_nul_bytes_in_it(
    app: Starlette, db_factory: sessionmaker[Session], browser: TestClient
) -> None:
    """A spreadsheet holds NUL bytes (an .xlsx is a zip): a file's bytes are not text parameters."""
    _, token = _admin(browser, db_factory, "director_a")
    workbook = ("staff.xlsx", b"PK\x03\x04\x00\x00\x00\x00garbage", "application/octet-stream")
    checked = browser.post("/admin/staff-import", data={"csrf_token": token}, files={"file": workbook})
    assert checked.status_code < 500 and REFUSED not in checked.text
    refused = browser.post("/admin/staff-import", data={"csrf_token": token + "\x00"},
                           files={"file": ("staff.csv", b"a;b\r\n", "text/csv")})
    assert refused.status_code == 400 and REFUSED in refused.text
    # A file's name is text, sent raw (a client need not escape it as httpx does).
    body = (b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode()
            + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="st\x00aff.csv"\r\n'
            + b"Content-Type: text/csv\r\n\r\na;b\r\n--b--\r\n")
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    named = browser.post("/admin/staff-import", content=body, headers=multipart)
    assert named.status_code == 400 and REFUSED in named.text


def test_the_token_endpoint_answers_a_nul_with_an_oauth_error(browser: TestClient) -> None:
    for form in ({"grant_type": "authorization_code", "code": "\x00", "client_id": "kontingent"},
                 {"grant_type": "refresh_token\x00", "refresh_token": "x"}):
        answer = browser.post("/oidc/token", data=form)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", answer.text
    for path in ("/oidc/revoke", "/oidc/introspect", "/oidc/userinfo"):
        answer = browser.post(path, data={"token": "a\x00", "access_token": "a\x00"})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", (path, answer.text)


def test_authorize_shows_its_own_error_page_and_redirects_nowhere(browser: TestClient) -> None:
    """The redirect_uri of a request holding a NUL is not trusted to carry the error back."""
    query = "response_type=code&client_id=kontingent&scope=openid&redirect_uri=https%3A%2F%2Fapp.test%2Fcb%00"
    for answer in (browser.get(f"/oidc/authorize?{query}", follow_redirects=False),
                   browser.post("/oidc/authorize", content=query, follow_redirects=False,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})):
        assert answer.status_code == 400 and "location" not in answer.headers
        assert "Вход в приложение невозможен" in answer.text and "<code>invalid_request</code>" in answer.text


def test_headers_with_a_nul_are_refused(browser: TestClient) -> None:
    """A server lets no raw NUL through in a header; a cookie's quoted octal escape decodes to one."""
    answer = browser.get("/oidc/userinfo", headers={"Authorization": "Bearer a\x00b"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    browser.cookies.clear()
    answer = browser.get("/account", headers={"Cookie": '__Host-bridge_sid="a\\000b"; __Host-bridge_flow="\\000"'},
                         follow_redirects=False)
    assert answer.status_code < 500


def test_a_spreadsheet_cell_with_a_nul_is_refused_before_anything_is_looked_up(
    app: Starlette, db_factory: sessionmaker[Session], browser: TestClient
) -> None:
    """The file passes the edge (its bytes are no text parameter); its importer refuses the cell."""
    directory, token = _admin(browser, db_factory, "director_a")
    school = directory.orgs["school_a"]
    before = _without_sessions(database_snapshot(db_factory))
    for cells in (f"Гро\x00мов;Илья;{school};Завуч школы", f"Громов;Илья;{school}\x00;Завуч школы"):
        sheet = f"Фамилия;Имя;Организация;Роль\r\n{cells}\r\n".encode()
        page = browser.post("/admin/staff-import", data={"csrf_token": token},
                            files={"file": ("staff.csv", sheet, "text/csv")})
        assert page.status_code == 400 and "В строке 2 недопустимые символы" in page.text, page.text[-2000:]
    token = _sign_in(browser, app, directory, db_factory, "support_staff")
    for action in ("check", "import"):
        sheet = "Название;Вид;ИНН\r\nШкола\x00 №1;школа;7707083893\r\n".encode()
        page = browser.post("/support/organizations/import", data={"csrf_token": token, "action": action},
                            files={"file": ("orgs.csv", sheet, "text/csv")})
        assert page.status_code == 400 and "В строке 2 недопустимые символы" in page.text, page.text[-2000:]
    assert _without_sessions(database_snapshot(db_factory)) == before


def _without_sessions(snapshot: dict[str, list[str]]) -> dict[str, list[str]]:
    return {table: rows for table, rows in snapshot.items() if table != "signin_sessions"}
