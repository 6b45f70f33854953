"""What the routes hand the sign-in flows, built per request from the shared runtime."""

from __future__ import annotations

from starlette.requests import Request

from bridge.application.signin import SignInRules
from bridge.flows.dependencies import SignInDependencies
from bridge.web.context import runtime_of
from bridge.web.urls import path_for


def signin_dependencies(request: Request) -> SignInDependencies:
    runtime = runtime_of(request)
    public_url = runtime.settings.public_url
    return SignInDependencies(
        database=runtime.db,
        upstream=runtime.upstream,
        http=runtime.http,
        rules=SignInRules.of(runtime.settings),
        purge=runtime.flow_purge,
        # Registered at each provider: the bridge's public address, then the route's path.
        callback_url=lambda key: public_url + path_for(request, "login_callback", provider=key),
        default_next=path_for(request, "account"),
    )
