"""Refused administrative operations go to the audit log in their own transaction.

The service raises inside the caller's transaction, which rolls back; this record must survive it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record_independently
from bridge.services.errors import DomainError

REFUSED_EVENT = "issuance.refused"


def record_refusal(
    factory: sessionmaker[Session],
    context: AuditContext,
    operation: str,
    error: DomainError,
    **details: Any,
) -> None:
    """Audit `error` as the refusal of `operation` ("staff.register", "role.add", "credential.reset", ...)."""
    merged = {key: _plain(value) for key, value in {**error.details, **details}.items() if value is not None}
    organization_id = merged.pop("organization_id", None)
    subject_staff_id = merged.pop("subject_staff_id", None)
    record_independently(
        factory,
        context,
        REFUSED_EVENT,
        "refused",
        organization_id=organization_id if isinstance(organization_id, int) else None,
        subject_staff_id=subject_staff_id if isinstance(subject_staff_id, int) else None,
        operation=operation,
        reason=error.code,
        **merged,
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else str(value)


@contextmanager
def audited_refusals(
    factory: sessionmaker[Session], context: AuditContext, operation: str, **details: Any
) -> Iterator[None]:
    """Wrap the caller's whole transaction: a DomainError escaping it is audited, then re-raised."""
    try:
        yield
    except DomainError as error:
        record_refusal(factory, context, operation, error, **details)
        raise
