"""OpenID Connect Back-Channel Logout 1.0: the logout token, and the task that delivers the queue.

Deliveries are queued where a session ends (bridge.services.logout_deliveries), in that
transaction; this task POSTs them after the commit, never in the request that ended the
session. Each claimed delivery is signed at the moment it is sent (a fresh `iat`, `exp` and
`jti` per attempt), POSTed as `logout_token=…` with a short timeout, and any 2xx counts as
delivered. A failure is retried with a growing delay, a bounded number of times, then shown to
operators (`bridge logout-deliveries status`). Deliveries of one batch go out concurrently, so
one app that hangs holds up no other.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from joserfc import jwt
from sqlalchemy.orm import Session, sessionmaker

from bridge.blocking import run_blocking
from bridge.op.keys import KeyStore
from bridge.polling import poll_until_cancelled
from bridge.services import audit
from bridge.services.audit import AuditContext
from bridge.services.logout_deliveries import (
    BackchannelSettings,
    DeliveryStatus,
    LogoutToDeliver,
    after_commit_of_deliveries,
    claim_due,
    mark_delivered,
    mark_failed_attempt,
)
from bridge.storage.types import utcnow

log = logging.getLogger("bridge.backchannel")

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Back-Channel Logout 1.0 §2.4 recommends a short lifetime: the token is used at once.
LOGOUT_TOKEN_LIFETIME = timedelta(minutes=2)
BATCH = 20
_AUDIT = AuditContext(actor="bridge")


def logout_token(keys: KeyStore, issuer: str, alg: str, delivery: LogoutToDeliver, now: datetime) -> str:
    """The signed logout token for one delivery (§2.4): `sub`, `sid` when the app asked, never `nonce`."""
    issued_at = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": delivery.client_id,
        "iat": issued_at,
        "exp": issued_at + int(LOGOUT_TOKEN_LIFETIME.total_seconds()),
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        "sub": delivery.subject,
    }
    if delivery.sid is not None:
        claims["sid"] = delivery.sid
    return jwt.encode({"alg": alg, "typ": "logout+jwt"}, claims, keys.signing_key(alg))


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.retried + self.failed


class LogoutDispatcher:
    def __init__(
        self,
        database: sessionmaker[Session],
        keys: KeyStore,
        *,
        issuer: str,
        default_alg: str,
        http: httpx.AsyncClient,
        settings: BackchannelSettings,
    ) -> None:
        self.database = database
        self.keys = keys
        self.issuer = issuer.rstrip("/")
        self.default_alg = default_alg
        self.http = http
        self.settings = settings
        # One wake-up event per running loop (an app's lifespan; tests may run two at once).
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def wake(self) -> None:
        """Deliveries were just committed: deliver now rather than at the next poll (any thread)."""
        for loop, wake in list(self._waiting):
            if not loop.is_closed():
                loop.call_soon_threadsafe(wake.set)

    def wake_after_commit(self, database: sessionmaker[Session]) -> None:
        """Wake whenever a session of `database` commits deliveries it queued."""
        after_commit_of_deliveries(database, self.wake)

    async def dispatch_due(self, *, now: datetime | None = None) -> DeliveryReport:
        """Deliver what is due now (one claim), concurrently; `now` lets a test look ahead."""
        batch = await run_blocking(self._claim, now)
        outcomes = await asyncio.gather(*(self._deliver(delivery, now) for delivery in batch))
        return DeliveryReport(
            delivered=sum(outcome is DeliveryStatus.DELIVERED for outcome in outcomes),
            retried=sum(outcome is DeliveryStatus.QUEUED for outcome in outcomes),
            failed=sum(outcome is DeliveryStatus.FAILED for outcome in outcomes),
        )

    async def run(self) -> None:
        """Until cancelled: deliver, then wait for a wake-up or the poll interval."""
        waiting = (asyncio.get_running_loop(), asyncio.Event())
        self._waiting.append(waiting)
        interval = self.settings.poll_interval.total_seconds()
        async def one_pass() -> bool:
            return (await self.dispatch_due()).total == BATCH  # a full batch

        try:
            await poll_until_cancelled(
                one_pass, waiting[1], interval, log=log,
                failed="back-channel logout pass failed; trying again at the next poll",
            )
        finally:
            self._waiting.remove(waiting)

    async def _deliver(self, delivery: LogoutToDeliver, now: datetime | None) -> DeliveryStatus:
        try:
            token = await run_blocking(
                logout_token, self.keys, self.issuer, delivery.alg or self.default_alg, delivery, now or utcnow()
            )
            response = await self.http.post(
                delivery.uri, data={"logout_token": token}, timeout=self.settings.timeout_seconds,
                headers={"Cache-Control": "no-store"},
            )
            if not response.is_success:
                raise DeliveryRefused(f"HTTP {response.status_code}")
        except Exception as error:  # any failure of one delivery is retried later
            outcome = await run_blocking(functools.partial(self._settle_failure, delivery, error, now))
            # The token is never logged; the app and the kind of failure are enough to act on.
            log.warning(
                "logout token for %s not delivered (attempt %s, %s): %s",
                delivery.client_id, delivery.attempt, outcome.value, _describe(error),
            )
            return outcome
        await run_blocking(self._settle_delivered, delivery, now)
        return DeliveryStatus.DELIVERED

    def _claim(self, now: datetime | None) -> list[LogoutToDeliver]:
        with self.database() as db, db.begin():
            return claim_due(db, limit=BATCH, now=now)

    def _settle_delivered(self, delivery: LogoutToDeliver, now: datetime | None) -> None:
        with self.database() as db, db.begin():
            mark_delivered(db, delivery.id, now)
            audit.record(
                db, _AUDIT, "oidc.backchannel_logout.delivered", "success", subject_staff_id=delivery.staff_id,
                client_id=delivery.client_id,
                delivery_id=delivery.id, attempt=delivery.attempt, with_sid=delivery.sid is not None,
            )

    def _settle_failure(self, delivery: LogoutToDeliver, error: Exception, now: datetime | None) -> DeliveryStatus:
        with self.database() as db, db.begin():
            outcome = mark_failed_attempt(
                db, delivery.id, delivery.attempt, _describe(error), max_attempts=self.settings.max_attempts, now=now
            )
            if outcome is DeliveryStatus.FAILED:
                audit.record(
                    db, _AUDIT, "oidc.backchannel_logout.failed", "failure", subject_staff_id=delivery.staff_id,
                    client_id=delivery.client_id,
                    delivery_id=delivery.id, attempts=delivery.attempt, error=_describe(error),
                )
            return outcome


class DeliveryRefused(Exception):
    """The app answered, but not with a 2xx."""


def _describe(error: Exception) -> str:
    if isinstance(error, DeliveryRefused):
        return str(error)
    return error.__class__.__name__
