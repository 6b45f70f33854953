"""One Authlib server per app: built once with the provider, it keeps nothing of any request.

Its storage hooks reach the request at hand through `current_context()`, set only for the length
of one provider call; so two apps' requests, one after the other, each see their own client.
"""

from __future__ import annotations

import json
import threading

import pytest
from joserfc import jws
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.op.context import ProviderContext, current_context
from bridge.op.openid_provider import OpenIDProvider
from bridge.runtime import BridgeRuntime
from bridge.services.audit import AuditContext
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


def test_parallel_provider_calls_each_see_their_own_context_and_an_error_leaves_none(
    client: TestClient, runtime: BridgeRuntime, confidential_app: App
) -> None:
    """Two provider calls in two threads at once, each paused inside its call while the other sets
    its own context: each still reads its own (the context variable is per thread of execution),
    and a call that fails leaves no context behind for the next call its thread serves."""
    client.get("/.well-known/openid-configuration")  # the provider exists
    provider = _provider(runtime)
    both_inside = threading.Barrier(2)
    seen: dict[str, list[object]] = {}

    def call(name: str) -> None:
        def work(context: ProviderContext) -> None:
            both_inside.wait(timeout=10)
            # The server's storage hooks read the request through this, in the middle of the call.
            seen[name] = [context, current_context(), provider.server.context, context.audit.actor]
            both_inside.wait(timeout=10)
            seen[name].append(current_context())

        provider._in_transaction(AuditContext(actor=name, address=None), work)

    threads = [threading.Thread(target=call, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in ("first", "second"):
        own, current, through_server, actor, after = seen[name]
        assert own is current is through_server is after and actor == name

    def fail(_context: ProviderContext) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        provider._in_transaction(AuditContext(actor="failing", address=None), fail)
    with pytest.raises(LookupError):
        current_context()
    with pytest.raises(LookupError):
        _ = provider.server.context
