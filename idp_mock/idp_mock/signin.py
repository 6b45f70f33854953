"""The login step both providers share: the login page, the password check, the SSO cookie."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .pages import render
from .persons import Person
from .state import mock_state
from .store import ProviderStore, SignInSession

COOKIE_NAMES = {"esia": "esia_sso", "rsaa": "rsaa_sso"}


def store_for(request: Request, provider: str) -> ProviderStore:
    state = mock_state(request)
    return state.esia if provider == "esia" else state.rsaa


def login_page(request: Request, provider: str, handle: str, error: str | None = None, login: str = "") -> Response:
    state = mock_state(request)
    return render(
        request,
        "login.html",
        provider,
        status_code=401 if error else 200,
        action=f"/{provider}/login",
        request_id=handle,
        error=error,
        login=login,
        persons=state.persons.all(),
        default_password=state.persons.default_password,
    )


def person_from_form(request: Request, form: FormData) -> tuple[Person | None, str]:
    """The person a login form names: a picked test person, or login + password. Returns (person, login)."""
    persons = mock_state(request).persons
    picked = form.get("pick")
    if isinstance(picked, str) and picked:
        return persons.by_login(picked), picked
    login, password = form.get("login"), form.get("password")
    if not isinstance(login, str) or not isinstance(password, str):
        return None, ""
    return persons.authenticate(login, password), login


def current_session(request: Request, provider: str) -> tuple[str, SignInSession] | None:
    session_id = request.cookies.get(COOKIE_NAMES[provider])
    if not session_id:
        return None
    session = store_for(request, provider).sessions.get(session_id)
    if session is None or mock_state(request).persons.by_oid(session.person_oid) is None:
        return None
    return session_id, session


def set_session_cookie(response: Response, provider: str, session_id: str) -> None:
    response.set_cookie(COOKIE_NAMES[provider], session_id, path=f"/{provider}", httponly=True, samesite="lax")


def end_session(request: Request, response: Response, provider: str) -> None:
    found = current_session(request, provider)
    if found is not None:
        store_for(request, provider).sessions.pop(found[0], None)
    response.delete_cookie(COOKIE_NAMES[provider], path=f"/{provider}")
