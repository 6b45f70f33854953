"""The first sign-in: prove the issued password once, bind the external ID, open a session.

Both orders work (the flow, bridge/flows/signin.py, sequences them):
- external first: the upstream vouched, nobody is bound → the identity waits as a pending binding,
  parked by the callback's unit of work that found nobody (`sign_in_unless_proof_parked` with
  `awaiting`) → the password is proved → `bind_external_identity`;
- local first: the password is proved and parked as a proof (`accept_local_password`) → the
  upstream vouches → `bind_external_identity`.
A parked step is taken (single use) before the binding is tried, so a refused binding spends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import flow_steps, notices
from bridge.application.signin import FollowUp, SessionStarted, SignInRules, open_session, returning_sign_in
from bridge.application.signin_refusals import SignInRefused, record_refusal, signin_unit_of_work
from bridge.observability.metrics import count_binding, count_throttle_hit
from bridge.services import flow_state
from bridge.services.audit import AuditContext, record
from bridge.services.binding import BindingRefused, LocalProof, create_binding, proof_of
from bridge.services.binding_alerts import ALERTED_REFUSALS, SUSPICIOUS_FAILURES, AlertReason
from bridge.services.credentials import CredentialRefused, judge_issued_credential, read_issued_credential
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.services.throttle import (
    Throttled,
    ThrottlePolicy,
    attempt_succeeded,
    failures_elsewhere,
    reserve_attempt,
)
from bridge.storage.models import StaffMember

# One message for an unknown login, a wrong password, an expired and an already used credential:
# the page must not tell an attacker which of them it was.
CREDENTIAL_REFUSED_MESSAGE = (
    "Неверный логин или пароль, либо срок действия пароля истёк или он уже был использован. "
    "Проверьте данные; если не получается, попросите администратора сбросить пароль."
)


class BindingOrder(StrEnum):
    """Which came first at the first sign-in (kept on the binding and in its audit record)."""

    LOCAL_FIRST = "local_first"
    EXTERNAL_FIRST = "external_first"
    # No password at all: a mailed activation link, then the upstream (bridge/application/activation.py).
    ACTIVATION_LINK = "activation_link"


@dataclass(frozen=True)
class PendingBinding:
    """An identity the upstream vouched for, waiting for the issued password in this browser."""

    identity: ExternalIdentity
    # What the flow parked with it (its own business: where to go next, remember me, ...).
    flow_data: dict[str, Any]


@dataclass(frozen=True)
class ParkedProof:
    """The issued password proved in this browser, waiting for the upstream round trip."""

    proof: LocalProof
    flow_data: dict[str, Any]


class ProofLeftParked(StrEnum):
    """`sign_in_unless_proof_parked(keep_proof=True)` found a proof and left it where it was."""

    PROOF_PARKED = "proof_parked"


PROOF_PARKED = ProofLeftParked.PROOF_PARKED


def prove_password_for_binding(
    database: sessionmaker[Session],
    audit: AuditContext,
    browser_id: str,
    login: str,
    password: str,
    throttle: ThrottlePolicy,
) -> tuple[LocalProof, PendingBinding | None]:
    """Check the issued login and password, and take this browser's pending binding (single use) once
    it succeeded; raises SignInRefused (throttled, or refused).

    Two short transactions around the hash, none open while it runs. The attempt is reserved (and
    committed) before argon2 runs, so parallel guesses on every node count; the card is read in the
    same transaction; the hash and the judging touch no database (the binding checks the credential
    again under a row lock); a success lifts the backoff. The pending binding is taken in the
    transaction that settles the success: a wrong password leaves it for the next try.
    """
    with signin_unit_of_work(database, audit) as db:
        try:
            reserve_attempt(db, login, audit.address, throttle)
        except Throttled as refusal:
            count_throttle_hit(refusal.kind.value)
            raise SignInRefused(
                "throttled", refusal.message, event="signin.throttled", retryable=True,
                login=login, key=refusal.kind.value,
            ) from refusal
        on_file = read_issued_credential(db, login)
    try:
        proof = proof_of(judge_issued_credential(on_file, password))
    except CredentialRefused as refusal:
        # A blocked account is said as such: only after the right password (the check's order),
        # so it tells nothing to someone guessing.
        message = refusal.message if refusal.reason == "blocked" else CREDENTIAL_REFUSED_MESSAGE
        refused = SignInRefused(
            "password_refused", message, event="signin.password_refused", login=login, reason=refusal.reason,
        )
        record_refusal(database, audit, refused)
        raise refused from refusal
    with signin_unit_of_work(database, audit) as db:
        # Read before the success clears the counters: repeated failures elsewhere, then this.
        failures = failures_elsewhere(db, login, audit.address, throttle)
        attempt_succeeded(db, login, audit.address)
        if failures >= SUSPICIOUS_FAILURES:
            staff = db.get(StaffMember, proof.staff_id)
            if staff is not None:
                notices.alert_administrators(
                    db, audit, staff, AlertReason.PASSWORD_AFTER_FAILURES, failures=failures
                )
        pending = flow_state.consume(db, browser_id, FlowKind.PENDING_BINDING)
    return proof, _pending(pending)


@contextmanager
def counted_binding(order: str) -> Iterator[None]:
    """The binding's outcome on /metrics, once the transaction has committed or refused."""
    try:
        yield
    except SignInRefused as refusal:
        count_binding(order, "refused", refusal.code)
        raise
    count_binding(order, "bound")


def bind_external_identity(
    database: sessionmaker[Session],
    audit: AuditContext,
    proof: LocalProof,
    identity: ExternalIdentity,
    *,
    order: BindingOrder,
    remember: bool,
    replaces_session: str | None,
    rules: SignInRules,
) -> SessionStarted:
    """Bind the proved staff account to the external identity and open the first session.

    Raises SignInRefused (audited as `binding.refused`) and writes nothing when a binding rule
    refuses: the credential changed since the proof, the identity is someone else's, a policy.
    """
    try:
        with counted_binding(order.value), signin_unit_of_work(database, audit) as db:
            try:
                binding = create_binding(db, audit, proof, identity, policy=rules.binding, flow=order.value)
            except BindingRefused as refusal:
                raise SignInRefused(
                    refusal.code, refusal.message, event="binding.refused", subject_staff_id=proof.staff_id,
                    provider=identity.provider, external_subject=identity.subject, reason=refusal.code,
                ) from refusal
            notices.binding_created(db, binding.staff, identity, audit.address)
            return open_session(
                db, audit, binding.staff, identity,
                remember=remember, replaces_session=replaces_session, via="first_signin", rules=rules,
            )
    except SignInRefused as refusal:
        if refusal.code in ALERTED_REFUSALS:
            notices.alert_refused_binding(database, audit, proof.staff_id, identity, refusal.code)
        raise


@dataclass(frozen=True)
class AwaitedPassword:
    """What the callback parks with an identity nobody is bound to yet (`sign_in_unless_proof_parked`):
    it waits there until this browser proves an issued password."""

    flow_data: dict[str, Any]
    ttl: timedelta


def _park_pending_binding(
    db: Session, audit: AuditContext, browser_id: str, identity: ExternalIdentity, awaited: AwaitedPassword
) -> None:
    flow_state.park(
        db, browser_id, FlowKind.PENDING_BINDING, {"identity": identity.as_parked(), **awaited.flow_data},
        ttl=awaited.ttl,
    )
    record(db, audit, "binding.pending", "success", provider=identity.provider, external_subject=identity.subject)


def accept_local_password(
    database: sessionmaker[Session],
    audit: AuditContext,
    browser_id: str,
    proof: LocalProof,
    login: str,
    flow_data: dict[str, Any],
    ttl: timedelta,
) -> None:
    """Park the proof until this browser comes back from the upstream (a reset discards it)."""
    with signin_unit_of_work(database, audit) as db:
        flow_state.park(
            db, browser_id, FlowKind.LOCAL_PROOF, {"proof": proof.as_parked(), **flow_data}, ttl=ttl,
            staff_id=proof.staff_id,
        )
        record(db, audit, "signin.password_accepted", "success", subject_staff_id=proof.staff_id, login=login)


def peek_pending_binding(database: sessionmaker[Session], browser_id: str) -> PendingBinding | None:
    return _pending(flow_steps.peek(database, browser_id, FlowKind.PENDING_BINDING))


def sign_in_unless_proof_parked(
    database: sessionmaker[Session],
    audit: AuditContext,
    browser_id: str,
    identity: ExternalIdentity,
    *,
    remember: bool,
    replaces_session: str | None,
    rules: SignInRules,
    follow_up: FollowUp | None = None,
    awaiting: AwaitedPassword | None = None,
    keep_proof: bool = False,
) -> ParkedProof | SessionStarted | ProofLeftParked | None:
    """The upstream callback's one unit of work once the identity is verified.

    A password proved in this browser names the account the identity must bind to: its proof is
    taken and returned (the binding follows, bind_external_identity); someone else's bound identity
    is refused there, never signed in instead. Otherwise the returning sign-in (signin.py), None
    when nobody is bound yet; then, with `awaiting`, the identity is parked as this browser's
    pending binding in the same transaction.

    `keep_proof` is for an identity without its profile yet (which binding needs): a parked proof
    is only seen, and PROOF_PARKED says so, and nobody bound parks nothing; the caller comes back
    with the whole identity, so an upstream failure meanwhile leaves the proof usable for another try.
    """
    look = flow_state.peek if keep_proof else flow_state.consume
    with signin_unit_of_work(database, audit) as db:
        local = _proof(look(db, browser_id, FlowKind.LOCAL_PROOF))
        if local is not None:
            return PROOF_PARKED if keep_proof else local
        started = returning_sign_in(
            db, audit, identity, remember=remember, replaces_session=replaces_session, rules=rules,
            follow_up=follow_up,
        )
        if started is None and awaiting is not None and not keep_proof:
            _park_pending_binding(db, audit, browser_id, identity, awaiting)
        return started


def peek_local_proof(database: sessionmaker[Session], browser_id: str) -> ParkedProof | None:
    return _proof(flow_steps.peek(database, browser_id, FlowKind.LOCAL_PROOF))


def _pending(data: dict[str, Any] | None) -> PendingBinding | None:
    if data is None:
        return None
    flow_data = dict(data)
    return PendingBinding(ExternalIdentity.from_parked(flow_data.pop("identity")), flow_data)


def _proof(data: dict[str, Any] | None) -> ParkedProof | None:
    if data is None:
        return None
    flow_data = dict(data)
    return ParkedProof(LocalProof.from_parked(flow_data.pop("proof")), flow_data)
