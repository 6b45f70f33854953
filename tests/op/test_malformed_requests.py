"""Whatever an attacker puts in a request, the OP answers calmly: a Russian page or a proper
OAuth error, never a 500, and never a redirect to an address that is not registered."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.models import AuditEvent
from tests.op.conftest import REDIRECT_URI, App, Person, authorization_request, query_of
from tests.support.browser import sign_in_browser

HOSTILE_REDIRECT_URIS = [
    "https://kontingent.test/callback\\evil.test",
    "https://kontingent.test\\@evil.test/callback",
    "https://kontingent.test/callback\r\nSet-Cookie: pwned=1",
    "https://kontingent.test/callback%0d%0aSet-Cookie:%20pwned=1",
    "https://kontingent.test/callback%0D%0ALocation:%20https://evil.test",
    'https://kontingent.test/callback"><script>alert(1)</script>',
    "https://kontingent.test/callback'onload='alert(1)",
    "https://контингент.test/callback",
    "https://kontingent.test/callback/ü‮",
    "https://kontingent.test/" + "a" * 5000,
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)//https://kontingent.test/callback",
    "data:text/html,<script>alert(1)</script>",
    "//evil.test/callback",
    "https://evil.test/callback?https://kontingent.test/callback",
    "https://kontingent.test:99999/callback",
    "https://[::1/callback",
    "https://kontingent.test/callback#fragment",
    "https://kontingent.test/callback\x00",
    "\x00",
    " ",
    "",
    REDIRECT_URI + " ",
    " " + REDIRECT_URI,
    REDIRECT_URI.upper(),
]


def _assert_calm(response: object, *, registered: str = REDIRECT_URI) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert status != 500, response.text  # type: ignore[attr-defined]
    if status in (302, 303):
        location = headers["location"]
        # Only to the registered address (with an OAuth error or a code), or to our own sign-in page.
        assert location.startswith((registered + "?", "/login?")), location
        if location.startswith(registered):
            assert "error" in query_of(location) or "code" in query_of(location)
    else:
        assert status == 400, (status, response.text[:300])  # type: ignore[attr-defined]
        assert "location" not in headers
        if "text/html" in headers.get("content-type", ""):
            assert "Вход в приложение невозможен" in response.text  # type: ignore[attr-defined]
        else:
            assert "error" in response.json()  # type: ignore[attr-defined]


def test_hostile_redirect_uris_get_a_page_never_a_redirect_or_500(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for redirect_uri in HOSTILE_REDIRECT_URIS:
        params = authorization_request(confidential_app, redirect_uri=redirect_uri).params
        for response in (
            client.get("/oidc/authorize?" + urlencode(params), follow_redirects=False),
            # POST: answered with the same request as a GET, followed here as a browser would.
            client.post("/oidc/authorize", data=params, follow_redirects=True),
        ):
            _assert_calm(response)
            assert response.status_code == 400 and "location" not in response.headers, repr(redirect_uri)
            assert "Вход в приложение невозможен" in response.text
    with db_factory() as db:
        refused = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.authorize.refused")).all()
    # One holding a NUL is refused at the edge (bridge/web/text_guard.py), before the provider audits anything.
    assert len(refused) == 2 * len([uri for uri in HOSTILE_REDIRECT_URIS if "\x00" not in uri])
    assert all(len(str(event.details)) < 1500 for event in refused)


# Over MAX_PARAMETER_LENGTH but short enough for a URL a client can send.
LONG = 5000

REFUSED = [
    pytest.param({"state": "x" * LONG}, id="long-state"),
    pytest.param({"nonce": "n" * LONG}, id="long-nonce"),
    pytest.param({"nonce": "n" * 501}, id="nonce-over-500"),
    pytest.param({"code_challenge": "c" * LONG}, id="long-challenge"),
    pytest.param({"code_challenge": "c" * 42}, id="short-challenge"),
    pytest.param({"login_hint": "л" * LONG}, id="long-login-hint"),
    pytest.param({"client_id": "kontingent\x00"}, id="nul-client-id"),
    pytest.param({"client_id": "к" * LONG}, id="long-unicode-client-id"),
    pytest.param({"scope": "openid " * 1000}, id="long-scope"),
    pytest.param({"max_age": "9" * LONG}, id="long-max-age"),
    pytest.param({"max_age": "-1"}, id="negative-max-age"),
    pytest.param({"max_age": "1e3"}, id="float-max-age"),
    pytest.param({"prompt": "none login"}, id="prompt-none-and-login"),
    pytest.param({"response_type": "code\x00"}, id="nul-response-type"),
    pytest.param({"response_type": "code token"}, id="hybrid-response-type"),
    pytest.param({"response_type": "токен"}, id="unicode-response-type"),
    pytest.param({"id_token_hint": "not-a-jwt"}, id="garbage-hint"),
    pytest.param({"id_token_hint": "a.b.c"}, id="garbage-jws-hint"),
    pytest.param({"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, id="alg-none-hint"),
    pytest.param({"x" * 200: "1"}, id="long-parameter-name"),
]


def test_malformed_parameters_get_an_oauth_error_or_a_page(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for case in REFUSED:
        overrides = case.values[0]
        params = authorization_request(confidential_app, **overrides).params
        response = client.get("/oidc/authorize?" + urlencode(params), follow_redirects=False)
        _assert_calm(response)
        location = response.headers.get("location", "")
        assert "code=" not in location, case.id
        # Anything we redirect with is small: an oversized value is never echoed back.
        assert len(location) < 1000, case.id


def test_odd_but_small_state_is_echoed_encoded(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """`state` is the app's opaque value: it goes back exactly, percent-encoded, never as headers."""
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for state in ("s\r\nSet-Cookie: pwned=1", "состояние \u202e", "<script>alert(1)</script>", "a&code=forged"):
        request = authorization_request(confidential_app, state=state)
        response = client.get(request.url, follow_redirects=False)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.isascii() and "\r" not in location and "\n" not in location
        assert not any("pwned" in value for name, value in response.headers.items() if name != "location")
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [state] and len(query["code"]) == 1


def test_a_huge_posted_request_gets_a_page(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for overrides in ({"state": "x" * 100_000}, {"redirect_uri": REDIRECT_URI + "a" * 100_000}, {"nonce": "n" * 9000}):
        params = authorization_request(confidential_app, **overrides).params
        response = client.post("/oidc/authorize", data=params, follow_redirects=False)
        _assert_calm(response)
        assert response.status_code == 400 and "text/html" in response.headers["content-type"]


REPEATABLE = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
              "code_challenge_method", "prompt", "max_age", "id_token_hint", "login_hint"]


def test_a_repeated_parameter_is_refused(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be included more than once (even with the same value)."""
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for repeated in REPEATABLE:
        request = authorization_request(confidential_app)
        value = request.params.get(repeated, "1")
        extra = [(repeated, value)] if repeated in request.params else [(repeated, value), (repeated, value)]
        response = client.get(
            "/oidc/authorize?" + urlencode([*request.params.items(), *extra]), follow_redirects=False
        )
        _assert_calm(response)
        location = response.headers.get("location", "")
        assert "code=" not in location, repeated
        if response.status_code == 302:
            assert query_of(location)["error"] == "invalid_request", repeated


def test_token_and_userinfo_endpoints_take_garbage_calmly(client: TestClient, confidential_app: App) -> None:
    forms = [
        {"grant_type": "authorization_code", "code": "\x00", "client_id": "kontingent\x00"},
        {"grant_type": "authorization_code", "code": "c" * 100_000, "client_id": "к" * 5000},
        {"grant_type": "refresh_token", "refresh_token": "\x00" * 10, "client_id": "ekis\x00"},
        {"grant_type": "\x00"},
        {"grant_type": "authorization_code", "grant_type_": "x", "code": "a", "redirect_uri": "javascript:1"},
    ]
    for form in forms:
        response = client.post("/oidc/token", data=form)
        assert response.status_code in (400, 401), response.text
        assert "error" in response.json()
    response = client.post("/oidc/token", data={"grant_type": "client_credentials"}, auth=("kontingent\x00", "x"))
    assert response.status_code in (400, 401) and "error" in response.json()
    for header in ("Bearer \x00", "Bearer " + "a" * 100_000, "Bearer a.b.c", "Basic Zm9vOmJhcg==", "Bearer ..."):
        response = client.get("/oidc/userinfo", headers={"Authorization": header})
        assert response.status_code in (400, 401), response.text
