"""The route table: every route answers its own requests, whatever the order of the modules.

`collect_routes` puts the sign-in's routes first for speed; that is safe only while no route of
one module would also answer a request meant for another's.
"""

from __future__ import annotations

import re

from starlette.routing import Match, Mount, Route

from bridge.app import collect_routes


def concrete_path(template: str) -> str:
    path = re.sub(r"\{[^}]+:(?:int|id)\}", "1", template)
    return re.sub(r"\{[^}]+\}", "someone", path)


def test_each_route_is_the_first_to_match_its_own_requests() -> None:
    routes = collect_routes()
    wrong = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or ()):
            path = concrete_path(route.path)
            scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
            first = next(candidate for candidate in routes if candidate.matches(scope)[0] is Match.FULL)
            if first is not route:
                wrong.append((method, route.path, getattr(first, "name", None)))
    assert wrong == []


def test_the_hot_routes_come_before_the_staff_pages() -> None:
    names = [route.name for route in collect_routes() if isinstance(route, Route | Mount)]
    for hot in ("health", "oidc_authorize", "oidc_token", "oidc_userinfo", "login_start", "login_callback", "static"):
        assert names.index(hot) < names.index("admin_requests")
