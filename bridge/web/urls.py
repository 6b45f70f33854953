"""URLs come from the route table by name: no path literal outside the routes' own definitions.

Paths, not absolute URLs: behind a proxy the Host a request arrived with is not necessarily the
public one (the issuer in Settings is), and a relative redirect works wherever the bridge is served.

A route without path parameters always has the same path, so it is looked up in the route table
once per app and kept by name (`app.state.fixed_paths`): Starlette's lookup tries every route in
turn, and most redirects and page links name such a route. For a route with parameters, the route
that answers the name is found once (`app.state.param_routes`) and asked for each path itself:
Starlette's lookup costs ~150 µs with the bridge's ~90 routes (every refusal an exception), the
route's own ~4 µs; a staff list's page names one per row, on the event loop.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import BaseRoute, NoMatchFound


def path_for(request: Request, name: str, /, *, query: dict[str, str] | None = None, **path_params: Any) -> str:
    """The path of the named route, with `query` (if any) encoded after it."""
    path = _path_with_parameters(request, name, path_params) if path_params else _fixed_path(request, name)
    return f"{path}?{urlencode(query)}" if query else path


def _fixed_path(request: Request, name: str) -> str:
    # A route without parameters has one path for the app's life: Starlette's lookup tries every
    # route in turn (each refusal an exception), so it is asked once per name and app. Routes with
    # parameters are not kept (their values would make the table grow without bound).
    state = request.app.state
    paths: dict[str, str] | None = getattr(state, "fixed_paths", None)
    if paths is None:
        paths = {}
        state.fixed_paths = paths
    path = paths.get(name)
    if path is None:
        path = str(request.app.url_path_for(name))
        paths[name] = path
    return path


def _path_with_parameters(request: Request, name: str, path_params: dict[str, Any]) -> str:
    # Which route answers depends on the name and the parameters' names, never on their values
    # (Route and Mount compare exactly these), so the route is kept per name and parameter names.
    state = request.app.state
    routes: dict[tuple[str, frozenset[str]], BaseRoute] | None = getattr(state, "param_routes", None)
    if routes is None:
        routes = {}
        state.param_routes = routes
    key = (name, frozenset(path_params))
    route = routes.get(key)
    if route is None:
        route = _route_answering(request.app.router.routes, name, path_params)
        routes[key] = route
    return str(route.url_path_for(name, **path_params))


def _route_answering(routes: list[BaseRoute], name: str, path_params: dict[str, Any]) -> BaseRoute:
    """The first route that makes the path, as Starlette's own lookup takes it."""
    for route in routes:
        try:
            route.url_path_for(name, **path_params)
        except NoMatchFound:
            continue
        return route
    raise NoMatchFound(name, path_params)
