"""Each layer sees only what is below it: the import graph of bridge/, read with `ast`.

routes (HTTP) → flows (ceremonies) → application (use cases) → services (rules) → storage;
`upstream/` (connectors to the external IDs) and `op/` (our OpenID Provider) beside them.
One table of rules: a package, what it must never import, and why. An import inside a function
or under `if TYPE_CHECKING:` counts the same as one at the top: a layer that needs the name
needs the layer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parent.parent / "bridge"


@dataclass(frozen=True)
class Rule:
    package: str
    forbidden: tuple[str, ...]
    why: str
    # Narrower modules allowed although a forbidden prefix covers them.
    allowed: tuple[str, ...] = ()
    # Files of the package the rule does not apply to (the reason goes in `why`).
    exempt: tuple[str, ...] = ()


RULES = (
    Rule(
        "bridge.flows",
        ("bridge.routes", "bridge.runtime", "bridge.web", "bridge.cli", "bridge.op", "bridge.storage",
         "starlette", "sqlalchemy"),
        "flows sequence steps with what they are handed (SignInDependencies) and call use cases, "
        "which own the transactions",
        allowed=("sqlalchemy.orm",),
    ),
    Rule(
        "bridge.upstream",
        ("bridge.services", "bridge.application", "bridge.flows", "bridge.routes", "bridge.op", "bridge.web",
         "bridge.runtime", "bridge.storage", "bridge.cli", "starlette", "sqlalchemy"),
        "connectors return their own UpstreamIdentity; the application layer takes it into the federation",
    ),
    Rule(
        "bridge.op",
        ("bridge.storage.models", "bridge.storage.database", "bridge.routes", "bridge.flows", "bridge.web",
         "bridge.runtime", "bridge.cli", "sqlalchemy"),
        "our OpenID Provider reaches data through services and is handed its paths by its route",
        allowed=("sqlalchemy.orm",),
    ),
    Rule(
        "bridge.application",
        ("bridge.routes", "bridge.cli", "bridge.flows", "bridge.web", "bridge.op", "bridge.runtime", "starlette"),
        "a use case takes plain arguments from whichever front end calls it and never sees a request",
    ),
    Rule(
        "bridge.services",
        ("bridge.application", "bridge.flows", "bridge.routes", "bridge.op", "bridge.web", "bridge.runtime",
         "bridge.cli", "bridge.upstream", "starlette"),
        "domain rules never reach up; they run in their caller's transaction",
    ),
    Rule(
        "bridge.storage",
        ("bridge.services", "bridge.application", "bridge.flows", "bridge.routes", "bridge.op", "bridge.web",
         "bridge.runtime", "bridge.cli", "bridge.upstream", "starlette"),
        "models and queries know nothing of what uses them",
    ),
    Rule(
        "bridge.mail",
        ("bridge.application", "bridge.flows", "bridge.routes", "bridge.op", "bridge.web", "bridge.runtime",
         "bridge.cli", "bridge.upstream", "starlette"),
        "mail infrastructure (templates, SMTP, the outbox dispatcher) serves the use cases, never calls them",
        allowed=("starlette.datastructures",),  # Secret: a value type, as in bridge/config.py
    ),
    Rule(
        "bridge.routes",
        ("bridge.storage",),
        "pages reach data only through the layers below",
    ),
    Rule(
        "bridge.cli",
        ("bridge.storage",),
        "commands reach data through the application layer; opening and migrating the database "
        "(cli/directory.py, cli/db.py) is wiring, like bridge/runtime.py for the web",
        exempt=("bridge/cli/directory.py", "bridge/cli/db.py"),
    ),
    Rule(
        "bridge.routes.admin",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.admin_common",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.admin_lifecycle",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.admin_staff",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.admin_import",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.cli.staff",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and print: no session, no ORM object",
    ),
    Rule(
        "bridge.cli.staff_lifecycle",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and print: no session, no ORM object",
    ),
    Rule(
        "bridge.cli.requests",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and print: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.admin_requests",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the administrative adapters parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.routes.registration",
        ("sqlalchemy", "bridge.storage", "bridge.runtime", "bridge.services.refusals"),
        "the public registration pages parse, call one use case and render: no session, no ORM object",
    ),
    Rule(
        "bridge.observability",
        ("bridge.config", "bridge.storage", "bridge.services", "bridge.application", "bridge.flows", "bridge.routes",
         "bridge.op", "bridge.web", "bridge.runtime", "bridge.cli", "bridge.upstream", "bridge.mail", "sqlalchemy"),
        "metrics, request ids and log formats are counted into from every layer, so they import none of them",
    ),
    Rule(
        "bridge.blocking",
        ("bridge", "starlette", "sqlalchemy"),
        "the worker threads for blocking calls serve every layer, so they import none of them",
    ),
    Rule(
        "bridge.web",
        ("bridge.routes", "bridge.flows", "bridge.op", "bridge.cli", "bridge.storage", "sqlalchemy"),
        "HTTP plumbing for the routes: it reads no database itself",
    ),
)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = BRIDGE) -> set[str]:
    """Every module `path` imports (relative imports resolved); `from a import b` counts a and a.b."""
    package = _module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from bridge.storage import models` imports bridge.storage.models.
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _covers(prefix: str, module: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _sources(rule: Rule, root: Path) -> list[Path]:
    """The package's files, or the one module's file."""
    target = root.parent.joinpath(*rule.package.split("."))
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    return [path for path in paths if path.relative_to(root.parent).as_posix() not in rule.exempt]


def violations(rule: Rule, root: Path = BRIDGE) -> list[str]:
    found = []
    for path in _sources(rule, root):
        for module in sorted(imported_modules(path, root)):
            if any(_covers(allowed, module) for allowed in rule.allowed):
                continue
            if any(_covers(forbidden, module) for forbidden in rule.forbidden):
                found.append(f"{path.relative_to(root.parent)} imports {module}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[rule.package for rule in RULES])
def test_layer_imports_only_what_is_below_it(rule: Rule) -> None:
    assert violations(rule) == [], rule.why


def test_every_rule_names_a_package_or_module_that_exists() -> None:
    for rule in RULES:
        target = BRIDGE.parent.joinpath(*rule.package.split("."))
        assert target.is_dir() or target.with_suffix(".py").is_file(), rule.package
        for exempt in rule.exempt:
            assert (BRIDGE.parent / exempt).is_file(), exempt


def test_the_reader_sees_relative_late_and_type_checking_imports(tmp_path: Path) -> None:
    package = tmp_path / "bridge" / "flows"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "step.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from ..storage import models\n"
        "if TYPE_CHECKING:\n    from bridge.runtime import BridgeRuntime\n"
        "def late():\n    import starlette.requests\n"
    )
    [flows] = [rule for rule in RULES if rule.package == "bridge.flows"]
    assert violations(flows, tmp_path / "bridge") == [
        "bridge/flows/step.py imports bridge.runtime",
        "bridge/flows/step.py imports bridge.runtime.BridgeRuntime",
        "bridge/flows/step.py imports bridge.storage",
        "bridge/flows/step.py imports bridge.storage.models",
        "bridge/flows/step.py imports starlette.requests",
    ]
