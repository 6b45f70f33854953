"""CSRF over HTTP on the whole bridge: every unsafe route refuses a request without this browser's token.

The route table is read, not listed here: a form added tomorrow is attacked by these tests too,
and the only way past them is a name added to `CSRF_EXEMPT` (which the first test pins).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from bridge.app import CSRF_EXEMPT
from bridge.config import Settings
from bridge.storage.models import Base, StaffMember
from bridge.web.csrf import UNSAFE_METHODS
from bridge.web.signin_cookie import signin_cookie_name
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser
from tests.support.throttle import lock_out

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STALE = "Форма устарела"
# The target of the staff-card actions: someone the signed-in administrator really manages.
TARGET = "director_a"


def test_the_exemptions_are_exactly_the_oauth_endpoints_that_need_one(app: Starlette) -> None:
    """Widening this set switches CSRF off for a route: it must be a deliberate, reviewed change."""
    assert frozenset({"oidc_token", "oidc_userinfo", "oidc_authorize", "oidc_revoke", "oidc_introspect"}) == CSRF_EXEMPT
    names = {route.name for route in app.routes if isinstance(route, Route)}
    assert names >= CSRF_EXEMPT, "an exemption names no route: renamed?"


def unsafe_routes(app: Starlette, directory: Directory) -> list[tuple[str, str]]:
    """(method, path) of every unsafe, non-exempt route, path parameters filled with a real target."""
    found = []
    for route in app.routes:
        if not isinstance(route, Route) or route.name in CSRF_EXEMPT:
            continue
        # A number where the route takes one (a role's id): the token is checked before anything is looked up.
        path = re.sub(r"\{[^}]+:(?:int|id)\}", "1", route.path)
        path = re.sub(r"\{[^}]+\}", directory.logins[TARGET], path)
        found.extend((method, path) for method in sorted((route.methods or set()) & UNSAFE_METHODS))
    return found


def _forms(directory: Directory, session_role: int) -> dict[str, dict[str, str]]:
    """A genuine-looking form for each path: unchecked, each would change something."""
    grant = {"organization_id": str(directory.orgs["school_a2"]), "role": "school_deputy",
             "start_date": date.today().isoformat(), "end_date": ""}
    return {
        "/admin/staff/new": {**grant, "surname": "Новый", "name": "Пётр", "no_patronymic": "1", "action": "save"},
        f"/admin/staff/{directory.logins[TARGET]}/roles": grant,
        "/login/start": {"provider": "esia", "remember": "on"},
        "/login/first": {"login": directory.logins[TARGET], "password": "Wrong-password-1"},
        "/login/bind": {"login": directory.logins[TARGET], "password": "Wrong-password-1"},
        "/login/role": {"role_id": str(session_role)},
        "/oidc/logout": {"client_id": "kontingent"},
        "/register": {"organization_id": str(directory.orgs["school_a"]), "surname": "Новый", "name": "Пётр",
                      "no_patronymic": "1", "position": "учитель", "email": "new@school.test",
                      "requested": "employee"},
        "/register/organization": {"name": "Новая школа", "inn": "7707083893", "contact_email": "a@school.test"},
        "/admin/requests/1/reject": {"reason": "не работает у нас"},
        "/admin/requests/1/approve": {"role": "school_deputy"},
    }


def database_snapshot(factory: sessionmaker[Session]) -> dict[str, list[str]]:
    """Every row of every table, the audit log included: a refusal leaves all of it as it was."""
    with factory() as db:
        return {
            table.name: sorted(repr(tuple(row)) for row in db.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
def signed_in(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette
) -> Iterator[tuple[Directory, int]]:
    """An education-department administrator, signed in; the director they manage locked out."""
    directory = build_directory(db_factory)
    lock_out(app, directory.logins[TARGET])
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == directory.logins["dept_a"])).one()
        role = staff.roles[0]
        db.expunge_all()
    sign_in_browser(client, settings, db_factory, staff.id, role)
    client.get("/account")
    yield directory, role.id


def _token(browser: TestClient, path: str = "/account") -> str:
    match = CSRF.search(browser.get(path).text)
    assert match is not None
    return match.group(1)


def test_every_unsafe_route_refuses_a_forged_or_missing_token_and_changes_nothing(
    client: TestClient, app: Starlette, db_factory: sessionmaker[Session], signed_in: tuple[Directory, int]
) -> None:
    directory, role_id = signed_in
    routes = unsafe_routes(app, directory)
    covered = {path for _, path in routes}
    assert covered >= {"/login/start", "/login/first", "/login/bind", "/login/role", "/logout", "/oidc/logout",
                       "/admin/staff/new", f"/admin/staff/{directory.logins[TARGET]}/reset-password"}
    forms = _forms(directory, role_id)
    with TestClient(app, base_url="https://bridge.test") as stranger:
        strangers_token = _token(stranger, "/login/first")
    before = database_snapshot(db_factory)
    for method, path in routes:
        for token in (None, "", "forged", strangers_token):
            data = {**forms.get(path, {}), **({"csrf_token": token} if token is not None else {})}
            page = client.request(method, path, data=data, follow_redirects=False)
            assert page.status_code == 403 and STALE in page.text, (method, path, token)
            machine = client.request(method, path, data=data, headers={"Accept": "application/json"})
            assert machine.status_code == 403 and machine.json()["error"] == "csrf_failed", (method, path)
    assert database_snapshot(db_factory) == before


def test_the_token_of_a_signed_in_page_does_not_travel_with_a_copied_session_cookie(
    client: TestClient, app: Starlette, settings: Settings, db_factory: sessionmaker[Session],
    signed_in: tuple[Directory, int],
) -> None:
    """Another browser holding the victim's sign-in cookie and page token, but its own browser id."""
    directory, role_id = signed_in
    victims_token = _token(client)
    session_cookie = signin_cookie_name(settings)
    before = database_snapshot(db_factory)
    with TestClient(app, base_url="https://bridge.test") as other:
        other.get("/login/first")
        other.cookies.set(session_cookie, client.cookies[session_cookie])
        for method, path in unsafe_routes(app, directory):
            data = {**_forms(directory, role_id).get(path, {}), "csrf_token": victims_token}
            page = other.request(method, path, data=data, follow_redirects=False)
            assert page.status_code == 403 and STALE in page.text, (method, path)
    assert database_snapshot(db_factory) == before


def test_the_same_request_with_the_pages_token_is_carried_out(
    client: TestClient, db_factory: sessionmaker[Session], signed_in: tuple[Directory, int]
) -> None:
    """The forged requests above were refused for their token alone."""
    directory, _ = signed_in
    target = directory.logins[TARGET]
    token = _token(client, f"/admin/staff/{target}")
    before = database_snapshot(db_factory)
    done = client.post(f"/admin/staff/{target}/reset-password", data={"csrf_token": token})
    assert done.status_code == 200 and "Пароль сброшен" in done.text
    assert database_snapshot(db_factory) != before
