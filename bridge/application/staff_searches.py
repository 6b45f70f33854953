"""The staff list's search text, kept on the server between the search form and the pages.

A search can be a СНИЛС or a name: personal data that must not travel in a URL (URLs end up in
access logs, browser history, a proxy's log). The form is POSTed; the text is parked for this
browser and this administrator under a random id, and the list's URLs carry only that id. Another
browser, or another administrator in this one, finds nothing under it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.services.actors import Actor
from bridge.services.flow_state import FlowKind, park, peek
from bridge.storage.database import transaction

# A working day: long enough to page through a search, short enough not to pile up.
SEARCH_TTL = timedelta(hours=8)


def keep_search(database: sessionmaker[Session], browser_id: str, actor: Actor, text: str) -> str:
    """Park the text; the id goes into the list's URL."""
    search_id = secrets.token_urlsafe(16)
    with transaction(database) as db:
        park(
            db, browser_id, FlowKind.STAFF_SEARCH, {"text": text, "admin": actor.staff_id},
            ttl=SEARCH_TTL, key=search_id,
        )
    return search_id


def saved_search(database: sessionmaker[Session], browser_id: str, actor: Actor, search_id: str) -> str | None:
    """The parked text, if this browser and this administrator parked it and it has not expired."""
    with database() as db:
        data = peek(db, browser_id, FlowKind.STAFF_SEARCH, key=search_id)
    if data is None or data.get("admin") != actor.staff_id:
        return None
    text = data.get("text")
    return text if isinstance(text, str) else None
