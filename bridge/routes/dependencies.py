"""What the routes hand the sign-in flows, built per request from the shared runtime."""

from __future__ import annotations

from starlette.requests import Request

from bridge.application.signin import SignInRules
from bridge.flows.dependencies import SignInDependencies
from bridge.web.context import runtime_of
from bridge.web.urls import path_for

_RULES_KEY = "signin_rules"


def signin_dependencies(request: Request) -> SignInDependencies:
    runtime = runtime_of(request)
    public_url = runtime.settings.public_url
    # Read from Settings once per runtime (the session keys' HMAC key is derived in it).
    rules = runtime.extras.get(_RULES_KEY)
    if not isinstance(rules, SignInRules):
        rules = runtime.extras[_RULES_KEY] = SignInRules.of(runtime.settings)
    return SignInDependencies(
        database=runtime.db,
        upstream=runtime.upstream,
        http=runtime.http,
        rules=rules,
        purge=runtime.flow_purge,
        # Registered at each provider: the bridge's public address, then the route's path.
        callback_url=lambda key: public_url + path_for(request, "login_callback", provider=key),
        default_next=path_for(request, "account"),
    )
