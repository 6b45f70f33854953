"""Each layer imports only the layers below it (read from the source with `ast`, nothing is run).

    routes/ (HTTP), cli/ (argv)  →  flows/  →  application/  →  services/  →  storage/

A failure names the file and the import that crosses a boundary: move the code to the layer it
belongs in (docs/architecture.md says which), rather than adding an exception here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "bridge"


@dataclass(frozen=True)
class Rule:
    name: str
    # Files the rule is about: folders or single files under bridge/.
    files: tuple[str, ...]
    # Modules they must not import (a prefix matches the package and everything in it).
    forbidden: tuple[str, ...]
    # Files of `files` the rule does not apply to, each with its reason in the rule's comment.
    exempt: tuple[str, ...] = ()


ABOVE_SERVICES = (
    "bridge.application", "bridge.routes", "bridge.cli", "bridge.flows", "bridge.web", "bridge.runtime", "bridge.app",
)

RULES = (
    Rule("services and storage never reach up", ("services", "storage"), ABOVE_SERVICES),
    # The stored vocabularies live in storage itself (storage/enums.py), so the models need nothing above.
    Rule("storage needs nothing from the domain", ("storage",), ("bridge.services", "bridge.upstream", "bridge.op")),
    Rule(
        "the application layer knows no HTTP, argv or sign-in ceremony",
        ("application",),
        ("bridge.routes", "bridge.cli", "bridge.flows", "bridge.web", "bridge.runtime", "starlette"),
    ),
    # The CLI opens the database and migrates it (cli/directory.py, cli/db.py): that is wiring,
    # like bridge/runtime.py for the web. Everything else goes through the application layer.
    Rule(
        "pages and commands reach data only through the layers below",
        ("routes", "cli"),
        ("bridge.storage",),
        exempt=("cli/directory.py", "cli/db.py"),
    ),
    # The administrative adapters parse, call one use case and render: no session, no ORM object.
    Rule(
        "administrative adapters hold no database session",
        ("routes/admin.py", "cli/staff.py", "cli/orgs.py", "cli/clients.py", "cli/audit.py"),
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
    ),
)


def _files(rule: Rule) -> list[Path]:
    found: list[Path] = []
    for entry in rule.files:
        path = BRIDGE / entry
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [path for path in found if path.relative_to(BRIDGE).as_posix() not in rule.exempt]


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file (inside functions and TYPE_CHECKING too)."""
    here = _module_of(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            # `from bridge import routes` imports bridge.routes.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _crosses(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_no_import_crosses_a_layer_boundary(rule: Rule) -> None:
    files = _files(rule)
    assert files, f"the rule names no existing file: {rule.files}"
    crossings = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if _crosses(module, rule.forbidden)
    ]
    assert crossings == []


def test_the_checker_sees_imports_of_every_form() -> None:
    sample = BRIDGE / "services" / "actors.py"
    assert "bridge.storage.models" in imported_modules(sample)
    assert _crosses("bridge.routes.admin", ABOVE_SERVICES) and not _crosses("bridge.routesx", ABOVE_SERVICES)
    assert not _crosses("bridge.application", ("bridge.app",))
    assert "bridge.routes.admin" in imported_modules(BRIDGE / "app.py")  # `from bridge.routes import admin`
