"""The one transaction a use case runs in, with its refusal audited outside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext
from bridge.services.refusals import audited_refusals
from bridge.storage.database import transaction


@contextmanager
def unit_of_work(
    database: sessionmaker[Session], context: AuditContext, operation: str, **details: Any
) -> Iterator[Session]:
    """Commit on success; on a DomainError roll back, audit the refusal of `operation`, re-raise."""
    with audited_refusals(database, context, operation, **details), transaction(database) as db:
        yield db
