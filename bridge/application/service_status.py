"""What /readyz and /metrics report about the database: is it there, are the keys usable, what waits.

Read-only and unaudited on purpose: a load balancer asks every few seconds, and the answer holds
nothing about a person. The routes that call these decide who may ask (bridge/routes/operations.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bridge.services.key_encryption import KeyEncryptionError
from bridge.services.outbox import OutboxStatus, outbox_counts
from bridge.services.signing_keys import SigningKeyPolicy, active_signing_key, private_jwk

logger = logging.getLogger("bridge.readiness")


@dataclass(frozen=True)
class DatabaseReadiness:
    database: bool
    signing_key: bool


def database_readiness(database: sessionmaker[Session], policy: SigningKeyPolicy, alg: str) -> DatabaseReadiness:
    """The database answers, and the active signing key is there and unwraps with the configured KEKs."""
    try:
        with database() as db:
            db.execute(text("SELECT 1"))
            try:
                private_jwk(active_signing_key(db, alg), policy.keyring)
            except KeyEncryptionError as error:
                logger.warning("not ready: the signing key cannot be used: %s", error)
                return DatabaseReadiness(database=True, signing_key=False)
    except SQLAlchemyError as error:
        logger.warning("not ready: the database does not answer: %s", error.__class__.__name__)
        return DatabaseReadiness(database=False, signing_key=False)
    return DatabaseReadiness(database=True, signing_key=True)


def mail_queue(database: sessionmaker[Session]) -> dict[str, float]:
    """Messages waiting to be sent and messages given up on; empty when the database does not answer."""
    try:
        with database() as db:
            counts = outbox_counts(db)
    except SQLAlchemyError:
        return {}
    return {"pending": counts.get(OutboxStatus.QUEUED, 0), "failed": counts.get(OutboxStatus.FAILED, 0)}


def pool_use(engine: Engine) -> dict[str, float]:
    """Connections of this process's pool: checked out now, kept idle, and the pool's size."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return {}
    return {"checked_out": pool.checkedout(), "idle": pool.checkedin(), "size": pool.size()}
