"""path_for: the route table's own answer, whether the path is kept for the app or looked up."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

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


def test_a_path_with_parameters_is_looked_up_each_time_and_not_kept() -> None:
    app = _app()
    assert path_for(_request(app), "person", login="ivanov") == "/people/ivanov"
    assert path_for(_request(app), "person", login="petrov", query={"tab": "1"}) == "/people/petrov?tab=1"
    assert "person" not in getattr(app.state, "fixed_paths", {})
