"""How CLI commands report: human text or `--json`, and stable error codes with exit status."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bridge.services.errors import DomainError

EXIT_REFUSED = 1
EXIT_USAGE = 2


def visible(value: object) -> str:
    """One visible line whatever a field holds: newlines, ANSI escapes and invisible characters
    become backslash escapes (a backslash itself doubles), so a stored value cannot forge a line
    of text output or recolour a terminal. Non-strings are shown as JSON, escaped the same way."""
    if isinstance(value, str):
        text = value.replace("\\", "\\\\")
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def emit_error(args: argparse.Namespace, error: DomainError) -> int:
    if getattr(args, "json", False):
        print(json.dumps(error.as_json(), ensure_ascii=False, default=str))
    else:
        print(f"Ошибка: {error.message}", file=sys.stderr)
    return EXIT_REFUSED
