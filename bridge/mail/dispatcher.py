"""The background task that sends the outbox: after each commit that queued mail, and every poll.

Database work runs in worker threads; only the SMTP conversation runs on the event loop (it is
asynchronous). A failed send is scheduled again with a growing delay (bridge.services.outbox) and
logged without the message's body or the recipient's address.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bridge.blocking import run_blocking
from bridge.mail.settings import MailSettings
from bridge.polling import poll_until_cancelled
from bridge.services.outbox import MAIL_QUEUED, MailToSend, OutboxStatus, claim_due, mark_failed_attempt, mark_sent
from bridge.storage.database import transaction

log = logging.getLogger("bridge.mail")

Send = Callable[[MailToSend], Awaitable[None]]


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


class OutboxDispatcher:
    def __init__(self, database: sessionmaker[Session], settings: MailSettings, send: Send) -> None:
        self.database = database
        self.settings = settings
        self.send = send
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Something was just committed to the outbox: send it now rather than at the next poll.

        Safe from any thread (commits happen in worker threads); a no-op until `run` has started.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def wake_after_commit(self, database: sessionmaker[Session]) -> None:
        """Wake whenever a session of `database` commits mail it queued (the flag `queue_mail` sets)."""

        def committed(session: Session) -> None:
            if session.info.pop(MAIL_QUEUED, False):
                self.wake()

        def rolled_back(session: Session) -> None:
            session.info.pop(MAIL_QUEUED, None)

        event.listen(database, "after_commit", committed)
        event.listen(database, "after_soft_rollback", lambda session, previous: rolled_back(session))

    async def dispatch_due(self, *, limit: int = 20) -> DispatchReport:
        """Send what is due now (one claim); returns what happened to each claimed message."""
        batch = await run_blocking(self._claim, limit)
        sent = retried = failed = 0
        for mail in batch:
            try:
                await self.send(mail)
            except Exception as error:  # any failure of one message is retried later
                outcome = await run_blocking(functools.partial(self._settle_failure, mail, error))
                log.warning(
                    "mail %s not sent (attempt %s, %s): %s",
                    mail.id, mail.attempt, outcome.value, error.__class__.__name__,
                )
                if outcome is OutboxStatus.FAILED:
                    failed += 1
                else:
                    retried += 1
            else:
                await run_blocking(self._settle_sent, mail)
                sent += 1
        return DispatchReport(sent, retried, failed)

    async def run(self) -> None:
        """Until cancelled: dispatch, then wait for a wake-up or the poll interval."""
        self._loop = asyncio.get_running_loop()

        async def one_pass() -> bool:
            report = await self.dispatch_due()
            return report.sent + report.retried + report.failed == 20  # a full batch

        await poll_until_cancelled(
            one_pass, self._wake, self.settings.poll_interval.total_seconds(),
            log=log, failed="mail dispatcher pass failed; trying again at the next poll",
        )

    def _claim(self, limit: int) -> list[MailToSend]:
        with transaction(self.database) as db:
            return claim_due(db, limit=limit)

    def _settle_sent(self, mail: MailToSend) -> None:
        with transaction(self.database) as db:
            mark_sent(db, mail.id)

    def _settle_failure(self, mail: MailToSend, error: Exception) -> OutboxStatus:
        with transaction(self.database) as db:
            return mark_failed_attempt(
                db, mail.id, mail.attempt, error.__class__.__name__ + ": " + str(error),
                max_attempts=self.settings.max_attempts,
            )
