from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.op import grants
from bridge.services.authorization_codes import Redemption, redeem_authorization_code
from bridge.storage.models import AuditEvent, AuthorizationCode, OAuthClient, RefreshToken
from bridge.storage.types import utcnow
from tests.op.conftest import (
    App,
    Person,
    authorization_request,
    exchange,
    get_code,
    query_of,
    refresh,
)
from tests.support.browser import sign_in_browser


def _signed_in(client: TestClient, settings: Settings, db_factory: sessionmaker[Session], person: Person) -> None:
    sign_in_browser(client, settings, db_factory, person.staff_id, person.role)


def _events(db_factory: sessionmaker[Session], name: str) -> list[AuditEvent]:
    with db_factory() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)))


def _error_redirect(client: TestClient, url: str, redirect_uri: str) -> dict[str, str]:
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(redirect_uri + "?")
    return query_of(response.headers["location"])


def test_missing_pkce_is_refused_back_to_the_app(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app, code_challenge=None, code_challenge_method=None)
    query = _error_redirect(client, request.url, confidential_app.redirect_uri)
    assert query["error"] == "invalid_request"
    assert query["state"] == request.params["state"]
    assert "code" not in query


def test_plain_pkce_is_refused(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app, code_challenge_method="plain")
    assert _error_redirect(client, request.url, confidential_app.redirect_uri)["error"] == "invalid_request"
    # No method at all means plain (RFC 7636): refused too.
    request = authorization_request(confidential_app, code_challenge_method=None)
    assert _error_redirect(client, request.url, confidential_app.redirect_uri)["error"] == "invalid_request"


def test_wrong_verifier_and_missing_verifier_get_no_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    response = exchange(client, confidential_app, get_code(client, request), "x" * 50)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"

    request = authorization_request(public_app)
    response = exchange(client, public_app, get_code(client, request), None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()


def test_a_wrong_verifier_does_not_burn_the_code_and_is_audited(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """Whoever holds a stolen code but not the verifier cannot spend the app's code (docs/security.md)."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    for guess in ("x" * 50, request.verifier[:-1] + ("A" if request.verifier[-1] != "A" else "B")):
        response = exchange(client, confidential_app, code, guess)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        assert "access_token" not in response.json()
    refused = _events(db_factory, "oidc.token.refused")
    assert [event.details["error"] for event in refused] == ["invalid_grant", "invalid_grant"]
    assert all(code not in str(event.details) and request.verifier not in str(event.details) for event in refused)
    tokens = exchange(client, confidential_app, code, request.verifier)
    assert tokens.status_code == 200 and "access_token" in tokens.json()


def test_unregistered_redirect_uri_is_never_redirected_to(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    for wrong in ("https://evil.test/callback", "https://kontingent.test/callback/", "https://kontingent.test/callback?x=1"):
        request = authorization_request(confidential_app, redirect_uri=wrong)
        response = client.get(request.url, follow_redirects=False)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "text/html" in response.headers["content-type"]
        assert "Адрес возврата" in response.text
    request = authorization_request(confidential_app, redirect_uri=None)
    response = client.get(request.url, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


def test_unknown_client_gets_a_russian_page(client: TestClient, director: Person) -> None:
    request = authorization_request(App("nobody", None))
    response = client.get(request.url, follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "не зарегистрировано" in response.text
    assert "Traceback" not in response.text


def test_garbage_requests_get_oauth_errors_not_500(client: TestClient, confidential_app: App) -> None:
    assert client.get("/oidc/authorize").status_code == 400
    response = client.post("/oidc/token", data={"grant_type": "password", "username": "a", "password": "b"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    response = client.post("/oidc/token", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()
    response = client.get("/oidc/userinfo", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert "invalid_token" in response.headers["www-authenticate"]
    response = client.get("/oidc/userinfo")
    assert response.status_code == 401
    request = authorization_request(confidential_app, response_type="token")
    response = client.get(request.url, follow_redirects=False)
    assert query_of(response.headers["location"])["error"] == "unsupported_response_type"


def test_wrong_client_secret_is_refused_and_audited(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    response = exchange(client, App("kontingent", "wrong-secret"), code, request.verifier)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    # A confidential client cannot pretend to be public either.
    response = exchange(client, App("kontingent", None), code, request.verifier)
    assert response.json()["error"] == "invalid_client"
    # The code was not burnt by the failed attempts.
    assert exchange(client, confidential_app, code, request.verifier).status_code == 200

    refused = _events(db_factory, "oidc.token.refused")
    assert refused and refused[0].details["error"] == "invalid_client"
    assert all("wrong-secret" not in str(event.details) for event in refused)


def test_client_secret_is_not_stored_in_clear(db_factory: sessionmaker[Session], confidential_app: App) -> None:
    with db_factory() as db:
        stored = db.scalar(select(OAuthClient).where(OAuthClient.client_id == "kontingent"))
    assert stored is not None and stored.secret_hash
    assert confidential_app.client_secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64 and not stored.secret_hash.startswith("$argon2")


def test_reused_code_is_refused_and_revokes_what_it_issued(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    first = exchange(client, confidential_app, code, request.verifier)
    assert first.status_code == 200
    second = exchange(client, confidential_app, code, request.verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # The refresh token issued from the code is revoked: an intercepted code gives nothing lasting.
    assert refresh(client, confidential_app, first.json()["refresh_token"]).json()["error"] == "invalid_grant"
    assert _events(db_factory, "oidc.code.reused")
    with db_factory() as db:
        assert code not in str(db.scalars(select(AuthorizationCode.code_hash)).all())


def test_expired_code_is_refused(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    with db_factory() as db, db.begin():
        record = db.scalars(select(AuthorizationCode)).one()
        assert record.expires_at - record.created_at <= timedelta(seconds=60)
        db.execute(update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = exchange(client, confidential_app, code, request.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _events(db_factory, "oidc.token.refused")[-1].details["reason"] == "code_expired"


def test_code_is_bound_to_its_client_and_redirect_uri(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    assert exchange(client, public_app, code, request.verifier).json()["error"] == "invalid_grant"
    response = exchange(
        client, App("kontingent", confidential_app.client_secret, "https://kontingent.test/other"), code,
        request.verifier,
    )
    assert response.json()["error"] == "invalid_grant"


def test_a_code_presented_by_another_client_or_for_another_redirect_uri_is_refused_unspent(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    """Each is refused with the code's own verifier and the rest right, and leaves the code to its app."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    another_client = App(public_app.client_id, None, confidential_app.redirect_uri)
    another_redirect = App(confidential_app.client_id, confidential_app.client_secret, "https://kontingent.test/other")
    for presenter in (another_client, another_redirect):
        response = exchange(client, presenter, code, request.verifier)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        assert "access_token" not in response.json()
    reasons = [event.details["reason"] for event in _events(db_factory, "oidc.token.refused")]
    assert reasons == ["code_wrong_client", "Invalid 'redirect_uri' in request."]
    assert exchange(client, confidential_app, code, request.verifier).status_code == 200


def test_near_misses_of_the_redirect_uri_or_verifier_are_refused_and_leave_the_code_unspent(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], public_app: App, director: Person,
) -> None:
    """The redemption's one statement compares them exactly: no variant of the registered address
    (a slash, case, a query, a space) nor of the verifier (a newline, which the verifier pattern's
    `$` lets through, a character short or too many, another alphabet, upper case) claims the code."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(public_app)
    code = get_code(client, request)
    uri, verifier = public_app.redirect_uri, request.verifier
    presented = [(variant, verifier) for variant in (uri + "/", uri.upper(), uri + "?x=1", uri + " ")] + [
        (uri, variant)
        for variant in (verifier + "\n", verifier[:42], verifier + "+", "a" * 129, verifier.upper(), verifier[:-1])
    ]
    for redirect_uri, guess in presented:
        response = exchange(client, App(public_app.client_id, None, redirect_uri), code, guess)
        assert response.status_code == 400 and "access_token" not in response.json(), (redirect_uri, guess)
        assert response.json()["error"] in ("invalid_grant", "invalid_request"), (redirect_uri, guess)
    with db_factory() as db:
        assert db.scalars(select(AuthorizationCode.used_at)).one() is None
    assert exchange(client, public_app, code, verifier).status_code == 200


def test_a_redirect_uri_with_a_nul_byte_is_refused_and_leaves_the_code_unspent(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], public_app: App, director: Person,
) -> None:
    """Anyone may try a public app's code: a NUL byte in the presented redirect_uri (which PostgreSQL
    refuses in a query; the redemption's one statement compares it) is a refusal, not a 500 — at the
    edge (bridge/web/text_guard.py), and by the redemption itself behind it (defence in depth)."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(public_app)
    code = get_code(client, request)
    for redirect_uri in (public_app.redirect_uri + "\x00", "\x00"):
        presenter = App(public_app.client_id, None, redirect_uri)
        response = exchange(client, presenter, code, request.verifier)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text
        presented = Redemption(public_app.client_id, redirect_uri, request.params["code_challenge"])
        with db_factory() as db, db.begin():
            assert redeem_authorization_code(db, code, presented) is None
    with db_factory() as db:
        assert db.scalars(select(AuthorizationCode.used_at)).one() is None
    assert exchange(client, public_app, code, request.verifier).status_code == 200


def test_a_code_this_request_did_not_claim_never_yields_tokens(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tokens come only from the claim: a code read as redeemable and passing every check, but not
    claimed by this request (as when a concurrent redemption claims it in between), is reuse."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    code = get_code(client, request)
    monkeypatch.setattr(grants, "redeem_authorization_code", lambda *args: None)
    response = exchange(client, confidential_app, code, request.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _events(db_factory, "oidc.token.refused")[-1].details["reason"] == "code_reused"


def test_token_issue_is_audited_without_secrets(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(confidential_app)
    tokens = exchange(client, confidential_app, get_code(client, request), request.verifier).json()
    issued = _events(db_factory, "oidc.token.issued")
    assert len(issued) == 1
    event = issued[0]
    assert event.subject_staff_id == director.staff_id
    assert event.organization_id == director.organization_id
    assert event.details["client_id"] == "kontingent"
    assert event.details["grant_type"] == "authorization_code"
    text = str(event.details)
    for secret in (tokens["access_token"], tokens["refresh_token"], tokens["id_token"], request.verifier):
        assert secret not in text
    with db_factory() as db:
        assert tokens["refresh_token"] not in str(db.scalars(select(RefreshToken.token_hash)).all())


def test_a_repeated_parameter_at_the_token_endpoint_is_refused_audited_and_leaves_the_code_unspent(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], public_app: App, director: Person,
) -> None:
    """RFC 6749 §3.2: no parameter twice, even with the same value; which copy would count is the
    form parser's choice (the last), not the sender's. Refused as invalid_request, before any claim."""
    _signed_in(client, settings, db_factory, director)
    request = authorization_request(public_app)
    code = get_code(client, request)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": public_app.redirect_uri,
            "code_verifier": request.verifier, "client_id": public_app.client_id}
    for name in form:
        body = [*form.items(), (name, form[name])]
        response = client.post("/oidc/token", content=urlencode(body),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"] == "invalid_request" and name in response.json()["error_description"]
    # Another redirect_uri after the right one: the last would have counted.
    body = [*form.items(), ("redirect_uri", public_app.redirect_uri + "/elsewhere")]
    response = client.post("/oidc/token", content=urlencode(body),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    refusals = _events(db_factory, "oidc.token.refused")
    assert len(refusals) == len(form) + 1 and {event.details["error"] for event in refusals} == {"invalid_request"}
    with db_factory() as db:
        assert db.scalars(select(AuthorizationCode.used_at)).one() is None
    assert exchange(client, public_app, code, request.verifier).status_code == 200
