"""URLs come from the route table by name: no path of ours is spelled out in a handler or a template.

Read with `ast` and a regular expression, nothing is run. A path literal is any string constant
that starts with one of the route table's first segments (`/login`, `/admin`, `/oidc`, …), outside
the `Route(...)`/`Mount(...)` that define the path. Use `path_for(request, "name")` in handlers
and `{{ url("name") }}` in templates instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from starlette.routing import Mount, Route

from bridge.app import collect_routes

BRIDGE = Path(__file__).resolve().parent.parent / "bridge"
TEMPLATES = BRIDGE / "templates"
# Files allowed to name paths, each with its reason.
EXEMPT = {
    # Decides JSON or a page for any path, including paths no route matches (a 404 under /oidc/).
    "web/errors.py",
    # The upstream provider's discovery document: a standard path on another server, not one of ours.
    "upstream/oidc.py",
}
TEMPLATE_URL = re.compile(r'''(?:href|action|src)\s*=\s*["'](/[^"'{]*)''')


def our_prefixes() -> set[str]:
    prefixes = set()
    for route in collect_routes():
        assert isinstance(route, Route | Mount)
        first = route.path.split("/")[1] if route.path != "/" else ""
        if first and not first.startswith("{"):
            prefixes.add("/" + first)
    return prefixes


def _definitions(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are a Route's or Mount's own path."""
    defining = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Route", "Mount") and node.args:
            for part in ast.walk(node.args[0]):
                defining.add(id(part))
    return defining


def literals_in(path: Path, prefixes: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defining = _definitions(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in defining:
            text = node.value
            if any(text == prefix or text.startswith((prefix + "/", prefix + "?")) for prefix in prefixes):
                found.append(f"{path.relative_to(BRIDGE)}:{node.lineno} {text!r}")
    return found


def test_handlers_name_routes_instead_of_spelling_paths() -> None:
    prefixes = our_prefixes()
    assert {"/login", "/admin", "/oidc"} <= prefixes
    found = [
        literal
        for path in sorted(BRIDGE.rglob("*.py"))
        if path.relative_to(BRIDGE).as_posix() not in EXEMPT and "migrations" not in path.parts
        for literal in literals_in(path, prefixes)
    ]
    assert found == []


def test_templates_name_routes_instead_of_spelling_paths() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(1)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in TEMPLATE_URL.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_checker_finds_a_literal(tmp_path: Path) -> None:
    sample = BRIDGE / "routes" / "sample_for_the_test.py"
    try:
        sample.write_text('from starlette.routing import Route\nNEXT = "/admin/staff?x=1"\n'
                          'routes = [Route("/admin/x", None)]\n')
        assert literals_in(sample, {"/admin"}) == ["routes/sample_for_the_test.py:2 '/admin/staff?x=1'"]
    finally:
        sample.unlink()
