"""Times as staff read them: Moscow time (UTC+3 all year since 2014), Russian month names."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# A fixed offset rather than tzdata: Moscow has kept UTC+3 since 2014, and a slim image may lack tzdata.
MOSCOW = timezone(timedelta(hours=3), "МСК")

_MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)


def in_moscow(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time")
    return moment.astimezone(MOSCOW)


def moscow_datetime(moment: datetime) -> str:
    """«1 декабря 2026, 10:00»."""
    local = in_moscow(moment)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def moscow_date(moment: datetime) -> str:
    """«1 декабря 2026»: the day it is in Moscow at that moment."""
    local = in_moscow(moment)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def moscow_today() -> date:
    """Today as a calendar in Moscow reads it (what «по сегодня» means on a form)."""
    return datetime.now(MOSCOW).date()
