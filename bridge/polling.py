"""The loop of a background queue worker (the mail outbox, back-channel logout deliveries): a pass,
then a wake-up or the poll interval, until cancelled.

The wake-up is cleared before each pass, never after it. A commit that queues work while a pass
runs (after its claim has read the queue) sets the event then; cleared after the pass, that
wake-up would be lost and the work would wait for the next poll (minutes in production). Cleared
before, it makes the next wait return at once, and the next pass claims the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def poll_until_cancelled(
    one_pass: Callable[[], Awaitable[bool]],
    wake: asyncio.Event,
    interval_seconds: float,
    *,
    log: logging.Logger,
    failed: str,
) -> None:
    """`one_pass()` (True when it took a full batch: more may be due right away), then wait for
    `wake` or `interval_seconds`; a failed pass is logged as `failed` and tried again at the poll."""
    while True:
        wake.clear()
        try:
            if await one_pass():
                continue
        except Exception:
            log.exception(failed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=interval_seconds)
