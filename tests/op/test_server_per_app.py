"""One Authlib server per app: built once with the provider, it keeps nothing of any request.

Its storage hooks reach the request at hand through `current_context()`, set only for the length
of one provider call; so two apps' requests, one after the other, each see their own client.
"""

from __future__ import annotations

import json

import pytest
from joserfc import jws
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.op.context import current_context
from bridge.op.openid_provider import OpenIDProvider
from bridge.runtime import BridgeRuntime
from tests.op.conftest import App, Person, signed_in_tokens


def _provider(runtime: BridgeRuntime) -> OpenIDProvider:
    provider = runtime.extras["openid_provider"]
    assert isinstance(provider, OpenIDProvider)
    return provider


def test_every_request_is_served_by_the_one_server_and_leaves_no_context_behind(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], runtime: BridgeRuntime,
    confidential_app: App, public_app: App, director: Person,
) -> None:
    first = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    server = _provider(runtime).server
    second = signed_in_tokens(client, settings, db_factory, public_app, director)

    assert _provider(runtime).server is server
    # Each app got tokens for itself: no client read for one request answered another.
    for tokens, app in ((first, confidential_app), (second, public_app)):
        answer = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert answer.status_code == 200, answer.text
        claims = json.loads(jws.extract_compact(tokens["access_token"].encode()).payload)
        assert claims["client_id"] == app.client_id
    with pytest.raises(LookupError):
        current_context()
