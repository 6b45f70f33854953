"""The first sign-in: prove the issued password once, bind the external ID, open a session.

Both orders work (the flow, bridge/flows/signin.py, sequences them):
- external first: the upstream vouched, nobody is bound → the identity waits as a pending binding,
  parked by the callback's unit of work that found nobody (`sign_in_unless_proof_parked` with
  `awaiting`) → the password is proved, and bound in the transaction after the hash (`password_step`);
- local first: the password is proved and parked as a proof (`password_step`) → the
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
from bridge.application.signin_refusals import SignInRefused, record_refusal, refused_binding, signin_unit_of_work
from bridge.observability.metrics import count_binding, count_throttle_hit
from bridge.services import flow_state
from bridge.services.audit import AuditContext, record
from bridge.services.binding import BindingRefused, LocalProof, anyone_bound, create_binding, proof_of
from bridge.services.binding_alerts import ALERTED_REFUSALS, SUSPICIOUS_FAILURES, AlertReason
from bridge.services.credentials import CredentialRefused, judge_issued_credential, read_issued_credential
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.services.throttle import (
    Throttled,
    ThrottlePolicy,
    attempt_succeeded,
    reserve_attempt,
)
from bridge.storage.database import transaction
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

    Two short transactions around the hash, none open while it runs (`_proved_password`). The
    pending binding is taken in the transaction that settles the success: a wrong password leaves
    it for the next try. The password page binds in that same transaction (`password_step`).
    """
    proof = _proved_password(database, audit, login, password, throttle)
    with signin_unit_of_work(database, audit) as db:
        pending = _settle_success(db, audit, browser_id, login, proof, throttle)
    return proof, pending


@dataclass(frozen=True)
class PasswordBound:
    """The password step completed this browser's pending binding: the first session is open."""

    started: SessionStarted
    # What the callback parked with the identity (where to go next, remember me, ...).
    flow_data: dict[str, Any]


class ProofParkedAtPassword(StrEnum):
    """The password step found no pending binding and parked the proof (local first)."""

    PARKED = "parked"


def password_step(
    database: sessionmaker[Session],
    audit: AuditContext,
    browser_id: str,
    login: str,
    password: str,
    *,
    rules: SignInRules,
    remember: bool,
    park_proof_with: dict[str, Any] | None,
) -> PasswordBound | ProofParkedAtPassword | None:
    """The password page's whole work: prove the issued password, then, in ONE transaction, settle
    the throttle, take this browser's pending binding and bind it and open the first session.

    Without a pending binding: with `park_proof_with` the proof is parked in that transaction
    (local first; PARKED), else nothing more happens (None).
    Raises SignInRefused: throttled, the password refused, or the binding refused. A refused binding
    rolls its transaction back; the success is then settled and the pending binding spent in a
    transaction of their own (as when they had committed first), and the refusal is audited.
    """
    proof = _proved_password(database, audit, login, password, rules.throttle)
    order = BindingOrder.EXTERNAL_FIRST
    pending: PendingBinding | None = None
    try:
        with transaction(database) as db:
            pending = _settle_success(db, audit, browser_id, login, proof, rules.throttle)
            if pending is None:
                if park_proof_with is None:
                    return None
                _park_proof(db, audit, browser_id, proof, login, park_proof_with, rules.step_ttl)
                return ProofParkedAtPassword.PARKED
            started = _bind_and_open(
                db, audit, proof, pending.identity, order=order,
                remember=bool(pending.flow_data.get("remember")) or remember,
                replaces_session=pending.flow_data.get("replaces_session"), rules=rules,
            )
    except SignInRefused as refusal:
        # Only the binding raises in there, with the pending binding taken: the right password
        # still counts as such, and the pending binding it was tried with is spent.
        assert pending is not None
        with transaction(database) as db:
            _settle_success(db, audit, browser_id, login, proof, rules.throttle)
        _refused_binding(database, audit, proof, pending.identity, order, refusal)
        raise
    count_binding(order.value, "bound")
    return PasswordBound(started, pending.flow_data)


def _proved_password(
    database: sessionmaker[Session], audit: AuditContext, login: str, password: str, throttle: ThrottlePolicy
) -> LocalProof:
    """The attempt reserved and the card read in one transaction, then the hash outside any.

    The attempt is reserved (and committed) before argon2 runs, so parallel guesses on every node
    count; the hash and the judging touch no database (the binding checks the credential again
    under a row lock). Raises SignInRefused: throttled, or the password refused (audited).
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
        return proof_of(judge_issued_credential(on_file, password))
    except CredentialRefused as refusal:
        # A blocked account is said as such: only after the right password (the check's order),
        # so it tells nothing to someone guessing.
        message = refusal.message if refusal.reason == "blocked" else CREDENTIAL_REFUSED_MESSAGE
        refused = SignInRefused(
            "password_refused", message, event="signin.password_refused", login=login, reason=refusal.reason,
        )
        record_refusal(database, audit, refused)
        raise refused from refusal


def _settle_success(
    db: Session, audit: AuditContext, browser_id: str, login: str, proof: LocalProof, throttle: ThrottlePolicy
) -> PendingBinding | None:
    """The right password: its counters cleared (the administrators alerted after repeated failures
    elsewhere, read by the statements that clear them), and this browser's pending binding taken."""
    failures = attempt_succeeded(db, login, audit.address, throttle)
    if failures >= SUSPICIOUS_FAILURES:
        staff = db.get(StaffMember, proof.staff_id)
        if staff is not None:
            notices.alert_administrators(db, audit, staff, AlertReason.PASSWORD_AFTER_FAILURES, failures=failures)
    return _pending(flow_state.consume(db, browser_id, FlowKind.PENDING_BINDING))


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
        with transaction(database) as db:
            started = _bind_and_open(
                db, audit, proof, identity, order=order, remember=remember, replaces_session=replaces_session,
                rules=rules,
            )
    except SignInRefused as refusal:
        _refused_binding(database, audit, proof, identity, order, refusal)
        raise
    count_binding(order.value, "bound")
    return started


def _bind_and_open(
    db: Session,
    audit: AuditContext,
    proof: LocalProof,
    identity: ExternalIdentity,
    *,
    order: BindingOrder,
    remember: bool,
    replaces_session: str | None,
    rules: SignInRules,
) -> SessionStarted:
    """The binding, its letter and the first session, in the caller's transaction; SignInRefused
    when a binding rule refuses (the caller rolls back, then `_refused_binding`)."""
    try:
        binding = create_binding(db, audit, proof, identity, policy=rules.binding, flow=order.value)
    except BindingRefused as refusal:
        raise refused_binding(refusal, proof.staff_id, identity) from refusal
    notices.binding_created(db, binding.staff, identity, audit.address)
    return open_session(
        db, audit, binding.staff, identity,
        remember=remember, replaces_session=replaces_session, via="first_signin", rules=rules,
    )


def _refused_binding(
    database: sessionmaker[Session],
    audit: AuditContext,
    proof: LocalProof,
    identity: ExternalIdentity,
    order: BindingOrder,
    refusal: SignInRefused,
) -> None:
    """After a refused binding rolled back: audited as `binding.refused`, counted, and the
    administrators alerted for the refusals that may be someone else's doing."""
    record_refusal(database, audit, refusal)
    count_binding(order.value, "refused", refusal.code)
    if refusal.code in ALERTED_REFUSALS:
        notices.alert_refused_binding(database, audit, proof.staff_id, identity, refusal.code)


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


def _park_proof(
    db: Session,
    audit: AuditContext,
    browser_id: str,
    proof: LocalProof,
    login: str,
    flow_data: dict[str, Any],
    ttl: timedelta,
) -> None:
    """Park the proof until this browser comes back from the upstream (a reset discards it)."""
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
    found_nobody: bool = False,
    proof_parked: bool = True,
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
    `found_nobody` says that such a first look found nobody bound: the identity's binding is then
    probed by one column before the person is read with their roles (`returning_sign_in`).
    `proof_parked=False` says that the round trip's take noted no proof in this browser a moment ago
    (flow_state.consume_noting): a look that would only see one (`keep_proof`) is then spared. A
    proof parked since is as one parked just after this unit of work; the look that would take it,
    with the whole identity, never skips.
    """
    look = flow_state.peek if keep_proof else flow_state.consume
    with signin_unit_of_work(database, audit) as db:
        looks = proof_parked or not keep_proof
        local = _proof(look(db, browser_id, FlowKind.LOCAL_PROOF)) if looks else None
        if local is not None:
            return PROOF_PARKED if keep_proof else local
        started = (
            None
            if found_nobody and not anyone_bound(db, identity)
            else returning_sign_in(
                db, audit, identity, remember=remember, replaces_session=replaces_session, rules=rules,
                follow_up=follow_up,
            )
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
