"""URLs come from the route table by name: no path literal outside the routes' own definitions.

Paths, not absolute URLs: behind a proxy the Host a request arrived with is not necessarily the
public one (the issuer in Settings is), and a relative redirect works wherever the bridge is served.

A route without path parameters always has the same path, so it is looked up in the route table
once per app and kept by name (`app.state.route_paths`): Starlette's lookup tries every route in
turn, and most redirects and page links name such a route.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request


def path_for(request: Request, name: str, /, *, query: dict[str, str] | None = None, **path_params: Any) -> str:
    """The path of the named route, with `query` (if any) encoded after it."""
    path = str(request.app.url_path_for(name, **path_params)) if path_params else _fixed_path(request, name)
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
