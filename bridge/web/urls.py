"""URLs come from the route table by name: no path literal outside the routes' own definitions.

Paths, not absolute URLs: behind a proxy the Host a request arrived with is not necessarily the
public one (the issuer in Settings is), and a relative redirect works wherever the bridge is served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

# Paths remembered per app: its route table is fixed once built, and Starlette finds a name by
# trying every route in turn. Bounded, as some parameters (a login, an id) are without number.
_REMEMBERED_PATHS = 1024


def path_for(request: Request, name: str, /, *, query: dict[str, str] | None = None, **path_params: Any) -> str:
    """The path of the named route, with `query` (if any) encoded after it."""
    app = request.app
    paths: dict[tuple[Any, ...], str] | None = getattr(app.state, "route_paths", None)
    if paths is None:
        paths = app.state.route_paths = {}
    key = (name, *sorted(path_params.items()))
    path = paths.get(key)
    if path is None:
        path = str(app.url_path_for(name, **path_params))
        if len(paths) < _REMEMBERED_PATHS:
            paths[key] = path
    return f"{path}?{urlencode(query)}" if query else path
