"""The page templates are compiled once per process: a request reads and checks no template file."""

from __future__ import annotations

import os
from typing import Any

import pytest
from jinja2 import FileSystemLoader

from bridge.web.templating import TEMPLATES_DIR, build_environment


def test_a_template_is_compiled_once_and_then_rendered_without_touching_its_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = build_environment()
    loads: list[str] = []
    checks: list[str] = []
    read_source = FileSystemLoader.get_source
    modified_at = os.path.getmtime

    def counted_load(loader: FileSystemLoader, env: Any, name: str) -> Any:
        loads.append(name)
        return read_source(loader, env, name)

    def counted_check(path: Any) -> float:
        if str(path).startswith(str(TEMPLATES_DIR)):
            checks.append(str(path))
        return modified_at(path)

    monkeypatch.setattr(FileSystemLoader, "get_source", counted_load)
    monkeypatch.setattr(os.path, "getmtime", counted_check)
    context = {"title": "Ошибка", "message": "—", "csrf_token": "x", "url": lambda *_, **__: "/"}
    environment.get_template("error.html").render(context)
    # The page and the base.html it extends.
    assert loads == ["error.html", "base.html"]
    checks.clear()
    for _ in range(3):
        environment.get_template("error.html").render(context)
    # Nothing read again, and no file asked whether it changed (what Jinja's auto_reload does per use).
    assert loads == ["error.html", "base.html"] and checks == []
