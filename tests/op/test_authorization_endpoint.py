"""The authorization endpoint as OIDC Core and RFC 9207 describe it: POST, `iss`, `id_token_hint`."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.signing_keys import private_jwk
from bridge.storage.models import RoleAssignment, SigningKey
from tests.op.conftest import (
    App,
    Person,
    authorization_request,
    exchange,
    get_code,
    query_of,
    signed_in_tokens,
)
from tests.support.browser import sign_in_browser
from tests.support.keys import keyring_of

ISSUER = "https://bridge.test"


def _redirect(client: TestClient, url: str) -> dict[str, str]:
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])


def test_post_is_the_same_request_as_get(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    request = authorization_request(confidential_app)
    posted = client.post("/oidc/authorize", data=request.params, follow_redirects=False)
    # Answered with the very request as a GET: the sign-in cookie (SameSite=Lax) rides along there.
    assert posted.status_code == 303 and posted.headers["cache-control"] == "no-store"
    assert query_of(posted.headers["location"]) == request.params
    answer = client.post("/oidc/authorize", data=request.params, follow_redirects=True)
    assert answer.history and answer.history[-1].status_code == 302
    location = answer.history[-1].headers["location"]
    query = query_of(location)
    assert location.startswith(confidential_app.redirect_uri + "?")
    assert query["state"] == request.params["state"] and query["iss"] == ISSUER
    assert exchange(client, confidential_app, query["code"], request.verifier).status_code == 200


def test_post_refusals_match_get_refusals(client: TestClient, confidential_app: App) -> None:
    for overrides in ({"prompt": "none"}, {"code_challenge": None}, {"response_type": "token"}):
        request = authorization_request(confidential_app, **overrides)
        by_get = client.get(request.url, follow_redirects=False)
        by_post = client.post("/oidc/authorize", data=request.params, follow_redirects=True).history[-1]
        assert by_get.status_code == by_post.status_code == 302
        assert query_of(by_get.headers["location"]) == query_of(by_post.headers["location"])
        assert "error" in query_of(by_get.headers["location"])
    # Without a session and without prompt=none: to the sign-in page, back to the request as a GET.
    request = authorization_request(confidential_app)
    by_post = client.post("/oidc/authorize", data=request.params, follow_redirects=False)
    to_sign_in = client.get(by_post.headers["location"], follow_redirects=False)
    assert to_sign_in.status_code == 303
    assert urlsplit(to_sign_in.headers["location"]).path == "/login"
    assert query_of(to_sign_in.headers["location"])["next"].startswith("/oidc/authorize?tab_id=")


def test_every_redirect_to_the_app_names_the_issuer(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """RFC 9207 §2: success and error responses alike carry `iss` (the app's mix-up defence)."""
    assert _redirect(client, authorization_request(confidential_app, prompt="none").url)["iss"] == ISSUER
    assert _redirect(client, authorization_request(confidential_app, code_challenge=None).url)["iss"] == ISSUER
    assert _redirect(client, authorization_request(confidential_app, response_type="token").url)["iss"] == ISSUER
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    query = _redirect(client, authorization_request(confidential_app).url)
    assert query["iss"] == ISSUER and query["code"]
    # Exactly once, even when Authlib's own error path and ours both handled the response.
    response = client.get(authorization_request(confidential_app, scope="profile").url, follow_redirects=False)
    assert response.headers["location"].count("iss=") == 1


# --- id_token_hint -----------------------------------------------------------------------------


def _id_token(client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: App,
              person: Person) -> str:
    token: str = signed_in_tokens(client, settings, db_factory, app, person)["id_token"]
    return token


def test_a_hint_naming_the_signed_in_person_gets_a_code(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    hint = _id_token(client, settings, db_factory, confidential_app, director)
    request = authorization_request(confidential_app, id_token_hint=hint, prompt="none")
    assert get_code(client, request)


def test_a_hint_naming_someone_else_answers_login_required(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, deputy_and_director: tuple[Person, RoleAssignment],
) -> None:
    other, _ = deputy_and_director
    hint = _id_token(client, settings, db_factory, confidential_app, other)
    # Now the director signs in in this browser; the app still asks for the other person.
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    for prompt in (None, "none", "login"):
        request = authorization_request(confidential_app, id_token_hint=hint, prompt=prompt)
        query = _redirect(client, request.url)
        assert query["error"] == "login_required" and "code" not in query
        assert query["state"] == request.params["state"] and query["iss"] == ISSUER


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _our_key(db_factory: sessionmaker[Session], settings: Settings, alg: str = "ES256") -> Any:
    with db_factory() as db:
        record = db.scalars(select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))).one()
        return ECKey.import_key(private_jwk(record, keyring_of(settings)))


def test_forged_or_foreign_hints_are_refused_never_ignored(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    public_app: App, director: Person,
) -> None:
    hint = _id_token(client, settings, db_factory, confidential_app, director)
    header, payload, signature = hint.split(".")
    our_key = _our_key(db_factory, settings)
    claims = {"iss": ISSUER, "aud": "kontingent", "sub": director.subject, "iat": int(time.time()),
              "exp": int(time.time()) + 600}
    stranger = ECKey.generate_key("P-256", private=True)
    forged = {
        "bad signature": f"{header}.{payload}.{signature[:-6]}AAAAAA",
        "alg none": f"{_b64({'alg': 'none'})}.{_b64(claims)}.",
        "someone else's key, our kid": jwt.encode(
            {"alg": "ES256", "kid": our_key.kid}, claims, KeySet([stranger]).keys[0], algorithms=["ES256"]
        ),
        "another issuer": jwt.encode({"alg": "ES256", "kid": our_key.kid}, {**claims, "iss": "https://evil.test"},
                                     our_key, algorithms=["ES256"]),
        "issued to another app": jwt.encode({"alg": "ES256", "kid": our_key.kid}, {**claims, "aud": "ekis-mobile"},
                                            our_key, algorithms=["ES256"]),
        "an access token": signed_in_tokens(client, settings, db_factory, confidential_app, director)["access_token"],
        "garbage": "not-a-token",
    }
    for case, bad_hint in forged.items():
        request = authorization_request(confidential_app, id_token_hint=bad_hint)
        query = _redirect(client, request.url)
        assert query.get("error") == "invalid_request", case
        assert "code" not in query and query["iss"] == ISSUER
    # The public app may not use the confidential app's token either.
    request = authorization_request(public_app, id_token_hint=hint)
    assert _redirect(client, request.url)["error"] == "invalid_request"


def test_an_expired_hint_of_ours_still_names_the_person(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    assert client.get("/oidc/jwks").status_code == 200  # the keys exist from the first use on
    key = _our_key(db_factory, settings)
    long_ago = int(time.time()) - 86_400
    expired = jwt.encode(
        {"alg": "ES256", "kid": key.kid},
        {"iss": ISSUER, "aud": "kontingent", "sub": director.subject, "iat": long_ago, "exp": long_ago + 600},
        key, algorithms=["ES256"],
    )
    assert get_code(client, authorization_request(confidential_app, id_token_hint=expired))
