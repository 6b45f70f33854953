"""Every page speaks Russian: a refused authorization or logout request shows a Russian message and
the OAuth error code, never Authlib's English description (that goes to the audit record)."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.storage.models import AuditEvent
from tests.op.conftest import App, Person, authorization_request
from tests.support.browser import sign_in_browser

# Three Latin words in a row is a sentence; a code such as invalid_request is one word.
LATIN_SENTENCE = re.compile(r"[A-Za-z']+[ ,.:;]+[A-Za-z']+[ ,.:;]+[A-Za-z']+")


def visible_text(page: str) -> str:
    """What a person reads: no tags, no <code> (error codes are shown as codes), no <head>."""
    body = page.split("<body>", 1)[-1]
    body = re.sub(r"<code>.*?</code>", " ", body, flags=re.S)
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


BAD_REQUESTS = [
    pytest.param({"client_id": "nobody-registered"}, id="unknown-client"),
    pytest.param({"client_id": ""}, id="no-client"),
    pytest.param({"redirect_uri": "https://evil.test/callback"}, id="foreign-redirect"),
    pytest.param({"response_type": "token"}, id="implicit"),
    pytest.param({"response_type": ""}, id="no-response-type"),
    pytest.param({"code_challenge_method": "plain"}, id="plain-pkce"),
    pytest.param({"prompt": "none login"}, id="contradictory-prompt"),
]


@pytest.mark.parametrize("changes", BAD_REQUESTS)
def test_a_refused_authorization_is_explained_in_russian(
    changes: dict[str, str], client: TestClient, settings: Settings, db_factory: sessionmaker[Session],
    confidential_app: App, director: Person,
) -> None:
    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    params = {**authorization_request(confidential_app).params, **changes}
    response = client.get("/oidc/authorize?" + urlencode(params), follow_redirects=False)
    if response.status_code in (302, 303):
        # Refused back to the app's registered address, as OAuth says: no page of ours to read.
        assert "error=" in response.headers["location"]
        return
    assert response.status_code == 400
    text = visible_text(response.text)
    assert "Вход в приложение невозможен" in text
    assert LATIN_SENTENCE.search(text) is None, LATIN_SENTENCE.search(text)
    with db_factory() as db:
        [refusal] = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.authorize.refused")).all()
    # The developer's English description is kept where support can read it.
    assert refusal.details["error"] in response.text


def test_a_refused_logout_is_explained_in_russian(client: TestClient) -> None:
    response = client.get("/oidc/logout?" + urlencode({"id_token_hint": "not-a-token", "post_logout_redirect_uri":
                                                       "https://evil.test/"}))
    assert response.status_code == 400
    text = visible_text(response.text)
    assert "Выход не выполнен" in text and LATIN_SENTENCE.search(text) is None, text
