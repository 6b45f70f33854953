"""A school with a director, registered relying apps, and a relying app's side of the code flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.clients import register_client
from bridge.services.roles import OrganizationKind, Role
from bridge.storage.models import RoleAssignment, StaffMember
from tests.support.browser import sign_in_browser
from tests.support.factories import give_role, make_organization, make_staff

REDIRECT_URI = "https://kontingent.test/callback"
LOGOUT_URI = "https://kontingent.test/logged-out"


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None
    redirect_uri: str = REDIRECT_URI


@dataclass(frozen=True)
class Person:
    staff_id: int
    subject: str
    login: str
    role: RoleAssignment
    organization_id: int


@pytest.fixture
def confidential_app(db_factory: sessionmaker[Session], settings: Settings) -> App:
    with db_factory() as db, db.begin():
        registered = register_client(
            db, settings.secret_key, name="ИС Контингент", redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=[LOGOUT_URI], client_id="kontingent",
        )
    return App("kontingent", registered.client_secret)


@pytest.fixture
def public_app(db_factory: sessionmaker[Session], settings: Settings) -> App:
    with db_factory() as db, db.begin():
        register_client(
            db, settings.secret_key, name="ЕКИС (мобильное)", redirect_uris=["http://127.0.0.1:7000/cb"],
            public=True, client_id="ekis-mobile",
        )
    return App("ekis-mobile", None, "http://127.0.0.1:7000/cb")


def complete_profile(staff: StaffMember, *roles: RoleAssignment) -> None:
    """The workplace data an app's code waits for (bridge/op/authorization.py): a work e-mail and positions."""
    staff.email = f"{staff.login}@school.test"
    for role in roles:
        role.position = "директор"


@pytest.fixture
def director(db_factory: sessionmaker[Session]) -> Person:
    with db_factory() as db, db.begin():
        school = make_organization(db, name="МБОУ СОШ № 7", district="Дзержинский")
        staff = make_staff(db, surname="Иванова", name="Мария", patronymic="Петровна", login="ivanova")
        role = give_role(db, staff, school, Role.SCHOOL_DIRECTOR)
        complete_profile(staff, role)
        return Person(staff.id, staff.subject, staff.login, role, school.id)


@pytest.fixture
def deputy_and_director(db_factory: sessionmaker[Session]) -> tuple[Person, RoleAssignment]:
    """Someone with two active roles: director of one school, responsible at a college."""
    with db_factory() as db, db.begin():
        school = make_organization(db, name="МБОУ СОШ № 12")
        college = make_organization(db, name="ГБПОУ Колледж связи", kind=OrganizationKind.COLLEGE)
        staff = make_staff(db, surname="Петров", name="Олег", patronymic=None, login="petrov")
        first = give_role(db, staff, school, Role.SCHOOL_DIRECTOR)
        second = give_role(db, staff, college, Role.RESPONSIBLE)
        complete_profile(staff, first, second)
        return Person(staff.id, staff.subject, staff.login, first, school.id), second


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class AuthorizationRequest:
    params: dict[str, str]
    verifier: str

    @property
    def url(self) -> str:
        return "/oidc/authorize?" + urlencode(self.params)


def authorization_request(app: App, **overrides: str | None) -> AuthorizationRequest:
    verifier, challenge = pkce_pair()
    params: dict[str, Any] = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": "openid profile email roles",
        "state": secrets.token_urlsafe(12),
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return AuthorizationRequest(params, verifier)


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def get_code(client: TestClient, request: AuthorizationRequest, *, via: str | None = None) -> str:
    """The code for `request`; `via` is the `next` our sign-in pages bring the browser back to."""
    response = client.get(via or request.url, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(request.params["redirect_uri"] + "?")
    query = query_of(location)
    assert query["state"] == request.params["state"]
    return query["code"]


def exchange(
    client: TestClient, app: App, code: str, verifier: str | None, **extra: str
) -> Any:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri, **extra}
    if verifier is not None:
        form["code_verifier"] = verifier
    if app.client_secret is None:
        form["client_id"] = app.client_id
        return client.post("/oidc/token", data=form)
    return client.post("/oidc/token", data=form, auth=(app.client_id, app.client_secret))


def refresh(client: TestClient, app: App, refresh_token: str) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if app.client_secret is None:
        form["client_id"] = app.client_id
        return client.post("/oidc/token", data=form)
    return client.post("/oidc/token", data=form, auth=(app.client_id, app.client_secret))


def signed_in_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: App, person: Person
) -> dict[str, Any]:
    sign_in_browser(client, settings, db_factory, person.staff_id, person.role)
    request = authorization_request(app)
    response = exchange(client, app, get_code(client, request), request.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
