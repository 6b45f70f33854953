"""path_for: the route table's own answer, whether the path is kept for the app or looked up."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import NoMatchFound, Route

from bridge.web.urls import path_for


async def _page(request: Request) -> PlainTextResponse:
    return PlainTextResponse("")


def _request(app: Starlette) -> Request:
    return Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": [], "query_string": b""})


def _app() -> Starlette:
    return Starlette(routes=[Route("/a/b", _page, name="fixed"), Route("/people/{login}", _page, name="person")])


def test_a_fixed_path_is_the_route_tables_and_is_kept_per_app() -> None:
    first, second = _app(), _app()
    assert path_for(_request(first), "fixed") == "/a/b"
    assert path_for(_request(first), "fixed", query={"next": "/x y"}) == "/a/b?next=%2Fx+y"
    assert first.state.fixed_paths == {"fixed": "/a/b"}
    # Another app's table is its own.
    second.router.routes[0] = Route("/elsewhere", _page, name="fixed")
    assert path_for(_request(second), "fixed") == "/elsewhere"


def test_a_path_with_parameters_is_made_by_the_route_found_once_and_its_path_is_not_kept() -> None:
    app = _app()
    assert path_for(_request(app), "person", login="ivanov") == "/people/ivanov"
    assert path_for(_request(app), "person", login="petrov", query={"tab": "1"}) == "/people/petrov?tab=1"
    assert path_for(_request(app), "person", login="с пробелом") == app.url_path_for("person", login="с пробелом")
    assert "person" not in getattr(app.state, "fixed_paths", {})
    # The route is kept by name and parameter names, not the paths (they would grow without bound).
    assert list(app.state.param_routes) == [("person", frozenset({"login"}))]
    assert app.state.param_routes[("person", frozenset({"login"}))] is app.router.routes[1]


def test_a_name_or_parameters_no_route_answers_are_refused_as_starlette_refuses_them() -> None:
    app = _app()
    for name, params in (("nobody", {"login": "x"}), ("person", {"id": "1"}), ("person", {"login": "x", "id": "1"})):
        with pytest.raises(NoMatchFound):
            path_for(_request(app), name, **params)
    assert getattr(app.state, "param_routes", {}) == {}


def test_the_bridges_own_table_gives_starlettes_paths() -> None:
    from bridge.app import collect_routes

    app = Starlette(routes=collect_routes())
    cases = [("admin_staff_card", {"login": "ivanov"}), ("static", {"path": "css/site.css"})]
    for name, params in cases:
        assert path_for(_request(app), name, **params) == app.url_path_for(name, **params)
        assert path_for(_request(app), name, **params) == app.url_path_for(name, **params)
