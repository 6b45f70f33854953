"""Record numbers typed into a URL or a form.

`str.isdigit` admits «²» and other digits `int()` refuses, and a long run of digits overflows the
database's INTEGER (SQLite raises OverflowError, PostgreSQL a DataError): both were raw 500s. A
record number here is 1–9 ASCII digits, so it fits every id column; anything else is not one.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.convertors import Convertor, register_url_convertor

_NUMBER = re.compile(r"[0-9]{1,9}")


def record_number(raw: str | None) -> int | None:
    """The number, or None when `raw` is not 1–9 ASCII digits."""
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if _NUMBER.fullmatch(raw) else None


class RecordNumberConvertor(Convertor[int]):
    """`{name:id}` in a route: a record number; a longer one matches no route (404), not a 500."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: Any) -> str:
        number = int(value)
        if number < 0:
            raise ValueError("a record number is not negative")
        return str(number)


# Starlette's convertors live in one registry, read when a route's path is compiled; the route
# modules import this one before they define their routes.
register_url_convertor("id", RecordNumberConvertor())
