"""How the authorization endpoint hands the browser to the sign-in pages and takes it back."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.models import RoleAssignment, SignInSession
from bridge.storage.types import utcnow
from tests.op.conftest import App, Person, authorization_request, get_code, query_of
from tests.support.browser import sign_in_browser


def _location(client: TestClient, url: str) -> str:
    response = client.get(url, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    return str(response.headers["location"])


def test_stranger_is_sent_to_sign_in_and_comes_back_for_a_code(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    request = authorization_request(confidential_app)
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login"
    back = query_of(location)["next"]
    # The request is parked on the server: `next` names only its tab, none of its parameters.
    assert re.fullmatch(r"/oidc/authorize\?tab_id=[A-Za-z0-9_-]{43}", back)

    # The sign-in pages sign the person in and bring the browser back to `next`.
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, request, via=back)
    # Answered: the parked request is spent; coming back again finds nothing.
    stale = client.get(back, follow_redirects=False)
    assert stale.status_code == 400 and "Запрос на вход устарел" in stale.text


def test_a_parked_request_belongs_to_the_browser_that_made_it(
    app: Starlette, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    with TestClient(app, base_url="https://bridge.test") as first, TestClient(
        app, base_url="https://bridge.test"
    ) as other:
        request = authorization_request(confidential_app)
        back = query_of(_location(first, request.url))["next"]
        sign_in_browser(other, settings, db_factory, director.staff_id, director.role)
        # Another browser (signed in, even) cannot take over the first one's parked request.
        stolen = other.get(back, follow_redirects=False)
        assert stolen.status_code == 400 and "Запрос на вход устарел" in stolen.text
        assert confidential_app.redirect_uri not in stolen.headers.get("location", "")


def test_idp_hint_and_login_hint_reach_the_sign_in_page(client: TestClient, confidential_app: App) -> None:
    request = authorization_request(confidential_app, idp_hint="esia", login_hint="ivanova")
    query = query_of(_location(client, request.url))
    assert query["provider"] == "esia"
    assert query["login_hint"] == "ivanova"
    assert query["next"].startswith("/oidc/authorize?tab_id=") and "ivanova" not in query["next"]
    request = authorization_request(confidential_app, kc_idp_hint="rsaa")
    assert query_of(_location(client, request.url))["provider"] == "rsaa"


def test_prompt_none_without_a_session_answers_login_required(client: TestClient, confidential_app: App) -> None:
    request = authorization_request(confidential_app, prompt="none")
    location = _location(client, request.url)
    assert location.startswith(confidential_app.redirect_uri + "?")
    query = query_of(location)
    assert query["error"] == "login_required"
    assert query["state"] == request.params["state"]


def test_prompt_none_with_a_session_gives_a_code_silently(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, authorization_request(confidential_app, prompt="none"))


def test_several_roles_and_none_chosen_goes_to_role_choice(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    deputy_and_director: tuple[Person, RoleAssignment],
) -> None:
    person, college_role = deputy_and_director
    session_id = sign_in_browser(client, settings, db_factory, person.staff_id, None)
    request = authorization_request(confidential_app)
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login/role"
    back = query_of(location)["next"]

    silent = authorization_request(confidential_app, prompt="none")
    assert query_of(_location(client, silent.url))["error"] == "interaction_required"

    # The role page records the choice and sends the browser back: the code carries that role.
    with db_factory() as db, db.begin():
        db.execute(
            update(SignInSession).where(SignInSession.id == session_id)
            .values(role_assignment_id=college_role.id)
        )
    assert get_code(client, request, via=back)


def test_role_page_that_comes_back_without_a_choice_does_not_loop(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    deputy_and_director: tuple[Person, RoleAssignment],
) -> None:
    person, _ = deputy_and_director
    sign_in_browser(client, settings, db_factory, person.staff_id, None)
    request = authorization_request(confidential_app)
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login/role"
    query = query_of(_location(client, query_of(location)["next"]))
    assert query["error"] == "interaction_required"
    assert query["state"] == request.params["state"]


def test_prompt_login_requires_a_fresh_sign_in_without_looping(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app, prompt="login")
    location = _location(client, request.url)
    query = query_of(location)
    assert urlsplit(location).path == "/login"
    assert query["reauth"] == "1"

    # Re-authenticated: the same `next` now yields a code (no second trip to /login).
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, request, via=query["next"])


def test_prompt_login_that_comes_back_without_reauthenticating_is_refused(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app, prompt="login")
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login"
    # Back at `next` with the old session: told to the app, not sent round again.
    query = query_of(_location(client, query_of(location)["next"]))
    assert query["error"] == "login_required"


def test_a_new_session_from_an_old_upstream_login_is_not_a_reauthentication(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app, prompt="login", max_age="900")
    query = query_of(_location(client, request.url))
    # Both reach the sign-in page, which passes them to the upstream provider.
    assert query["reauth"] == "1" and query["max_age"] == "900"

    # A new session, but the upstream answered from its own sign-in of half an hour ago.
    session_id = sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    with db_factory() as db, db.begin():
        db.execute(
            update(SignInSession).where(SignInSession.id == session_id)
            .values(auth_time=utcnow() - timedelta(minutes=30))
        )
    assert query_of(_location(client, query["next"]))["error"] == "login_required"


def test_stranger_with_prompt_login_signs_in_only_once(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    request = authorization_request(confidential_app, prompt="login")
    location = _location(client, request.url)
    # The upstream is asked for a fresh login at this first sign-in already.
    assert urlsplit(location).path == "/login" and query_of(location)["reauth"] == "1"
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, request, via=query_of(location)["next"])


def test_max_age_exceeded_requires_reauthentication(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    session_id = sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    with db_factory() as db, db.begin():
        db.execute(
            update(SignInSession).where(SignInSession.id == session_id)
            .values(auth_time=utcnow() - timedelta(minutes=30))
        )
    assert get_code(client, authorization_request(confidential_app, max_age="3600"))
    request = authorization_request(confidential_app, max_age="600")
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login" and query_of(location)["reauth"] == "1"
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, request, via=query_of(location)["next"])

    silent = authorization_request(confidential_app, max_age="0", prompt="none")
    assert query_of(_location(client, silent.url))["error"] == "login_required"


def test_select_account_offers_the_role_choice_once(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app, prompt="select_account")
    location = _location(client, request.url)
    assert urlsplit(location).path == "/login/role"
    assert get_code(client, request, via=query_of(location)["next"])


def test_prompt_consent_needs_no_screen_for_first_party_apps(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert get_code(client, authorization_request(confidential_app, prompt="consent"))


def test_bad_prompt_and_max_age_are_invalid_requests(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for overrides in ({"prompt": "none login"}, {"max_age": "soon"}, {"max_age": "-1"}):
        request = authorization_request(confidential_app, **overrides)
        assert query_of(_location(client, request.url))["error"] == "invalid_request"
    request = authorization_request(confidential_app, scope="profile")
    assert query_of(_location(client, request.url))["error"] == "invalid_scope"
