"""URLs come from the route table by name: no path literal outside the routes' own definitions.

Paths, not absolute URLs: behind a proxy the Host a request arrived with is not necessarily the
public one (the issuer in Settings is), and a relative redirect works wherever the bridge is served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request


def path_for(request: Request, name: str, /, *, query: dict[str, str] | None = None, **path_params: Any) -> str:
    """The path of the named route, with `query` (if any) encoded after it."""
    path = str(request.app.url_path_for(name, **path_params))
    return f"{path}?{urlencode(query)}" if query else path
