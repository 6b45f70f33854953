"""Run a unit of work once more when its connection was lost under it — only where that is safe.

`pool_pre_ping` (bridge/storage/database.py) replaces connections that died while idle in the pool,
so a statement is never *sent* on a connection known to be dead. A connection can still die between
the ping and the statement, or mid-transaction (a restart, pg_terminate_backend): SQLAlchemy then
raises with `connection_invalidated` and has already rolled the transaction back. Running the work
again on a fresh connection is safe only when doing it twice equals doing it once: a read, or a
write that is idempotent (a session's "last seen" pushed to now). A binding, a code redemption or a
token issue is never retried here: it answers 503 and the person (or the app) repeats it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

logger = logging.getLogger("bridge.storage")

T = TypeVar("T")


def retry_once_on_disconnect(work: Callable[[], T], *, still_safe: Callable[[], bool] | None = None) -> T:
    """`work()`; if its connection was lost, `work()` once more (then whatever happens, happens).

    `still_safe`, for work that reads before it writes: asked after the loss, whether the attempt
    had only read so far (no retry when it says no)."""
    try:
        return work()
    except DBAPIError as error:
        if not error.connection_invalidated or (still_safe is not None and not still_safe()):
            raise
        logger.warning("database connection lost (%s): running the read once more", error.orig.__class__.__name__)
        return work()
