"""How CLI commands report: human text or `--json`, and stable error codes with exit status."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bridge.services.errors import DomainError

EXIT_REFUSED = 1
EXIT_USAGE = 2


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
