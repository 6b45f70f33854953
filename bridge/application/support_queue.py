"""«Обращения в техническую службу»: the public «Не могу войти», and support's one queue.

Support is the top of the issuing hierarchy: technical support at the CLI (no `--acting-as`), or a
signed-in person acting in the «Техническая поддержка» role. Support resolves an item with the
existing use cases — «Сбросить пароль» (which also removes the bindings), «Выслать ссылку повторно»,
«Отключить кабинет» — each with its own permission rule, audit record and letter, and then closes
the item with an outcome; the person is mailed the outcome at the address the item holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application import registration, signin_recovery, staff_lifecycle
from bridge.application.principals import Principal, audit_context_of, require_support
from bridge.application.registration import ActivationLinks
from bridge.application.staff_cards import StaffAdminPolicy
from bridge.application.unit_of_work import unit_of_work
from bridge.mail.templates import mail_templates
from bridge.services import support_queue
from bridge.services.actors import Actor
from bridge.services.audit import ANONYMOUS_ACTOR, AuditContext, record, record_independently
from bridge.services.credentials import IssuedCredential
from bridge.services.errors import InvalidInput
from bridge.services.moscow_time import moscow_datetime
from bridge.services.outbox import MailKind, queue_mail
from bridge.services.person_names import full_name
from bridge.services.registration_requests import RequestsThrottled
from bridge.services.support_queue import (
    KIND_TITLES,
    OUTCOME_TITLES,
    CannotSignInForm,
    SupportOutcome,
    SupportRequestKind,
)
from bridge.storage.database import transaction
from bridge.storage.enums import DeactivationReason
from bridge.storage.models import StaffMember, SupportRequest

__all__ = [
    "CannotSignInForm", "SupportItem", "SupportOutcome", "SupportResolution", "SupportResolved",
    "list_support_queue", "resolve_support_request", "show_support_request", "submit_cannot_sign_in",
]

SUPPORT_ONLY = "Обращения в техническую службу разбирает техническая поддержка."
# How many accounts an item's page suggests as the person's (matched by e-mail or by name).
CANDIDATE_LIMIT = 10


@dataclass(frozen=True)
class Candidate:
    login: str
    full_name: str
    email: str | None
    status: str


@dataclass(frozen=True)
class SupportItem:
    id: int
    kind: SupportRequestKind
    kind_title: str
    full_name: str
    organization: str | None
    email: str | None
    message: str | None
    created_at: datetime
    # The account of a signed-in person's request (a deactivation), else None.
    login: str | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: SupportOutcome | None
    outcome_title: str | None
    outcome_note: str | None
    # Accounts that may be the person's: for support to choose from, never shown to the public.
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class SupportResolution:
    """What support decided: the outcome, whose account (for a use case), and a note for the letter."""

    outcome: SupportOutcome
    login: str | None
    note: str | None


@dataclass(frozen=True)
class SupportResolved:
    item: SupportItem
    # A password reset's one-time password: shown to support once, never mailed.
    credential: IssuedCredential | None = None
    staff_id: int | None = None
    staff_name: str = ""


def submit_cannot_sign_in(database: sessionmaker[Session], address: str | None, form: CannotSignInForm) -> None:
    """«Не могу войти». Returns nothing: the answer is the same whoever the person is, or is not.

    Plainly wrong input is refused before any budget is spent; a spent budget is refused and audited.
    The audit record names the item's number only (its personal data stays in the queue).
    """
    context = AuditContext(ANONYMOUS_ACTOR, address)
    try:
        with transaction(database) as db:
            item = support_queue.file_cannot_sign_in(db, form, address)
            record(db, context, "support.request_filed", "success", support_request_id=item.id, kind=item.kind)
    except RequestsThrottled as refusal:
        record_independently(database, context, "request.throttled", "refused", form="support", reason=refusal.code)
        raise


def _require_support(db: Session, principal: Principal) -> Actor:
    return require_support(db, principal, SUPPORT_ONLY)


def _candidates(db: Session, item: SupportRequest) -> tuple[Candidate, ...]:
    if item.staff_id is not None:
        found = [staff] if (staff := db.get(StaffMember, item.staff_id)) is not None else []
    else:
        words = item.full_name.split()
        by_name = (
            (func.lower(StaffMember.surname) == words[0].lower()) & (func.lower(StaffMember.name) == words[1].lower())
            if len(words) >= 2 else None
        )
        conditions = [func.lower(StaffMember.email) == (item.email or "").lower()]
        if by_name is not None:
            conditions.append(by_name)
        found = list(db.scalars(
            select(StaffMember).where(or_(*conditions)).order_by(StaffMember.id).limit(CANDIDATE_LIMIT)
        ))
    return tuple(
        Candidate(login=staff.login, full_name=full_name(staff.surname, staff.name, staff.patronymic),
                  email=staff.email, status=staff.status.value)
        for staff in found
    )


def _item(db: Session, item: SupportRequest, *, with_candidates: bool = False) -> SupportItem:
    kind = SupportRequestKind(item.kind)
    outcome = SupportOutcome(item.outcome) if item.outcome else None
    staff = db.get(StaffMember, item.staff_id) if item.staff_id is not None else None
    return SupportItem(
        id=item.id, kind=kind, kind_title=KIND_TITLES[kind], full_name=item.full_name,
        organization=item.organization, email=item.email, message=item.message, created_at=item.created_at,
        login=staff.login if staff is not None else None, closed_at=item.closed_at, closed_by=item.closed_by,
        outcome=outcome, outcome_title=OUTCOME_TITLES[outcome] if outcome else None, outcome_note=item.outcome_note,
        candidates=_candidates(db, item) if with_candidates and item.closed_at is None else (),
    )


def list_support_queue(
    database: sessionmaker[Session], principal: Principal, *, include_closed: bool = False
) -> tuple[SupportItem, ...]:
    with unit_of_work(database, audit_context_of(principal), "support.list") as db:
        _require_support(db, principal)
        return tuple(_item(db, item) for item in support_queue.queue(db, include_closed=include_closed))


def show_support_request(database: sessionmaker[Session], principal: Principal, item_id: int) -> SupportItem:
    with unit_of_work(database, audit_context_of(principal), "support.show", support_request_id=item_id) as db:
        _require_support(db, principal)
        return _item(db, support_queue.get_item(db, item_id), with_candidates=True)


def _check_resolution(item: SupportItem, resolution: SupportResolution) -> str | None:
    """The account the resolution acts on (None for an answer), or InvalidInput."""
    if resolution.outcome is SupportOutcome.ANSWERED:
        if not resolution.note:
            raise InvalidInput("note_required", "Напишите ответ: он уйдёт человеку письмом.")
        return None
    login = item.login if item.kind is SupportRequestKind.DEACTIVATION else resolution.login
    if not login:
        raise InvalidInput("login_required", "Выберите учётную запись, с которой выполнить действие.")
    if item.kind is SupportRequestKind.DEACTIVATION and resolution.outcome is not SupportOutcome.DEACTIVATED:
        raise InvalidInput("outcome_not_for_kind", "Просьбу отключить кабинет решают отключением или ответом.")
    return login


def resolve_support_request(
    database: sessionmaker[Session],
    principal: Principal,
    item_id: int,
    resolution: SupportResolution,
    *,
    policy: StaffAdminPolicy,
    links: ActivationLinks,
) -> SupportResolved:
    """Close the item, run the chosen use case on the account, then mail the person the outcome.

    The item is claimed first (closed under its row lock, in its own transaction), so two
    supporters resolving it at once cannot both act: the second finds it closed. The use case then
    runs in its own transaction, with its own permission rule, audit record and letter; if it is
    refused, the claim is withdrawn and the item is open again.
    """
    context = audit_context_of(principal)
    with unit_of_work(database, context, "support.resolve", support_request_id=item_id) as db:
        _require_support(db, principal)
        stored = support_queue.get_item(db, item_id, lock=True)
        support_queue.require_open(stored)
        login = _check_resolution(_item(db, stored), resolution)
        support_queue.close_item(db, stored, resolution.outcome, context.actor, resolution.note)
    credential, staff_id, staff_name = None, None, ""
    try:
        if resolution.outcome is SupportOutcome.PASSWORD_RESET and login is not None:
            reset = signin_recovery.reset_password(database, principal, login, policy)
            credential, staff_id, staff_name = reset.credential, reset.staff.card.id, reset.staff.card.full_name
        elif resolution.outcome is SupportOutcome.ACTIVATION_RESENT and login is not None:
            registration.resend_activation(database, principal, login, links)
        elif resolution.outcome is SupportOutcome.DEACTIVATED and login is not None:
            staff_lifecycle.deactivate_staff(database, principal, login, DeactivationReason.PERSON_ASKED.value, policy)
    except Exception:
        with unit_of_work(database, context, "support.reopen", support_request_id=item_id) as db:
            support_queue.reopen_item(db, support_queue.get_item(db, item_id, lock=True), context.actor)
        raise
    with unit_of_work(database, context, "support.close", support_request_id=item_id) as db:
        closed = support_queue.get_item(db, item_id)
        _mail_outcome(db, closed)
        record(
            db, context, "support.request_closed", "success", support_request_id=closed.id, kind=closed.kind,
            resolution=resolution.outcome.value, login=login, subject_staff_id=closed.staff_id,
        )
        return SupportResolved(item=_item(db, closed), credential=credential, staff_id=staff_id, staff_name=staff_name)


def _mail_outcome(db: Session, item: SupportRequest) -> None:
    if not item.email or item.outcome is None:
        return
    outcome = SupportOutcome(item.outcome)
    words = item.full_name.split()
    content = mail_templates().render(
        MailKind.SUPPORT_OUTCOME,
        {
            "name": " ".join(words[1:]) or item.full_name, "number": item.id,
            "kind": KIND_TITLES[SupportRequestKind(item.kind)], "filed": moscow_datetime(item.created_at),
            "outcome": OUTCOME_TITLES[outcome], "note": item.outcome_note or "",
        },
    )
    queue_mail(db, MailKind.SUPPORT_OUTCOME, item.email, content, staff_id=item.staff_id)
