"""Refused sign-in steps: each audited under an event of its own, in a transaction of its own.

Administrative refusals share one event (`issuance.refused`, see unit_of_work); a sign-in step
has always been audited by what happened — `signin.throttled`, `binding.refused`,
`upstream.failed` — and the audit log's readers rely on those names. So a sign-in use case raises
SignInRefused naming its event, and `signin_unit_of_work` records it after the rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.services.audit import AuditContext, record_independently
from bridge.services.binding import BindingRefused
from bridge.services.errors import DomainError
from bridge.services.external_identity import ExternalIdentity
from bridge.storage.database import transaction


class SignInRefused(DomainError):
    """A sign-in step that cannot go on.

    `event` names its audit record, `details` (no secrets) go with it; `retryable` says whether
    starting the sign-in over can help (a timed-out step) or not (a refused password, a policy).
    """

    def __init__(self, code: str, message: str, *, event: str, retryable: bool = False, **details: Any) -> None:
        super().__init__(code, message, **details)
        self.event = event
        self.retryable = retryable


def refused_binding(refusal: BindingRefused, staff_id: int, identity: ExternalIdentity) -> SignInRefused:
    """A binding rule's refusal of `identity` for staff `staff_id`, as the sign-in step that tried it
    reports it (audited as binding.refused)."""
    return SignInRefused(
        refusal.code, refusal.message, event="binding.refused", subject_staff_id=staff_id,
        provider=identity.provider, external_subject=identity.subject, reason=refusal.code,
    )


def record_refusal(database: sessionmaker[Session], audit: AuditContext, refusal: SignInRefused) -> None:
    """Audit a refusal that happened outside any transaction (an upstream round trip, say)."""
    record_independently(database, audit, refusal.event, "refused", **refusal.details)


@contextmanager
def signin_unit_of_work(database: sessionmaker[Session], audit: AuditContext) -> Iterator[Session]:
    """Commit on success; a SignInRefused rolls back, is audited as its own event, and re-raised."""
    try:
        with transaction(database) as db:
            yield db
    except SignInRefused as refusal:
        record_refusal(database, audit, refusal)
        raise
