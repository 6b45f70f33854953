"""The background purge of a running bridge: one pass every interval, started in the app's lifespan.

The rules are bridge.services.housekeeping; the database work runs in a worker thread, one short
transaction per table. While a table still gives full batches, passes follow each other after a
short pause (other writers get the database in between). Every worker may run one: the deletes
are conditional, so two purging at once only share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from sqlalchemy.orm import Session, sessionmaker

from bridge.blocking import run_blocking
from bridge.services.housekeeping import HousekeepingSettings, PurgeReport, RetentionPolicy, purge_pass

log = logging.getLogger("bridge.housekeeping")

# Between passes while there is a backlog: enough for waiting sign-ins to take the write lock.
BACKLOG_PAUSE_SECONDS = 1.0


class HousekeepingTask:
    def __init__(
        self,
        database: sessionmaker[Session],
        settings: HousekeepingSettings,
        retention: RetentionPolicy,
        *,
        first_delay_seconds: float | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.retention = retention
        # Workers started together should not purge in step: the first pass waits a random while.
        interval = settings.interval.total_seconds() if settings.interval else 0.0
        self.first_delay_seconds = (
            random.uniform(0, min(interval, 60.0)) if first_delay_seconds is None  # noqa: S311 - not a secret
            else first_delay_seconds
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start purging in the background (call inside the lifespan); nothing when the interval is off."""
        if self.settings.interval is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="bridge-housekeeping")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run_pass(self) -> PurgeReport:
        report = await run_blocking(
            purge_pass, self.database, self.retention, batch_size=self.settings.batch_size
        )
        if report.total:
            log.info(
                "housekeeping purged %s rows: %s", report.total,
                ", ".join(f"{table} {count}" for table, count in report.counts.items() if count),
            )
        return report

    async def run(self) -> None:
        """Until cancelled."""
        assert self.settings.interval is not None, "started with the background purge switched off"
        interval = self.settings.interval.total_seconds()
        await asyncio.sleep(self.first_delay_seconds)
        while True:
            try:
                report = await self.run_pass()
            except Exception:
                log.exception("housekeeping pass failed; trying again at the next interval")
            else:
                if report.full:
                    await asyncio.sleep(BACKLOG_PAUSE_SECONDS)
                    continue
            await asyncio.sleep(interval)
