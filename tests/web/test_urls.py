"""Paths from the route table by name; those without parameters looked up once per app."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import NoMatchFound, Route

from bridge.web.urls import path_for


async def nothing(request: Request) -> Response:
    return Response()


def request_to(app: Starlette) -> Request:
    return Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})


def app_with(*routes: Route) -> Starlette:
    return Starlette(routes=[*routes, Route("/cards/{login}", nothing, name="card")])


def test_a_path_without_parameters_is_the_route_tables_and_kept_for_the_app() -> None:
    app = app_with(Route("/account", nothing, name="account"))
    request = request_to(app)
    assert path_for(request, "account") == "/account"
    assert path_for(request, "account", query={"next": "/x y"}) == "/account?next=%2Fx+y"
    assert app.state.route_paths == {"account": "/account"}
    # Another app, another table: nothing is shared between apps.
    other = app_with(Route("/elsewhere/account", nothing, name="account"))
    assert path_for(request_to(other), "account") == "/elsewhere/account"
    assert path_for(request, "account") == "/account"


def test_a_path_with_parameters_is_built_each_time() -> None:
    request = request_to(app_with())
    assert path_for(request, "card", login="ivanov") == "/cards/ivanov"
    assert path_for(request, "card", login="petrov") == "/cards/petrov"
    assert getattr(request.app.state, "route_paths", {}) == {}


def test_an_unknown_name_or_missing_parameter_still_fails_and_is_not_kept() -> None:
    request = request_to(app_with())
    with pytest.raises(NoMatchFound):
        path_for(request, "no_such_route")
    with pytest.raises(NoMatchFound):
        path_for(request, "card")
    assert request.app.state.route_paths == {}
