"""«Привязать ещё один способ входа»: a signed-in person binds a second provider from their own page.

The person presses a provider's button on «Личный кабинет»; the flow (bridge/flows/signin.py) parks
a link proof under the `state` of the round trip it starts (`start_linking`), and the answer to that
state — and no other — takes it (`take_link_proof`, one DELETE … RETURNING) and binds
(`link_provider`). A copied or replayed callback finds no step; a callback brought to another
browser, or after the person signed out, finds no session it belongs to. The binding rules are the
first binding's (bridge/services/binding.py), the name match always required; an identity already
someone else's is refused and the person's administrators are told, as at a first sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import flow_steps, notices
from bridge.application.signin import SignInRules
from bridge.application.signin_refusals import SignInRefused, refused_binding, signin_unit_of_work
from bridge.services import flow_state
from bridge.services.audit import AuditContext, record
from bridge.services.binding import BindingRefused, create_linked_binding
from bridge.services.binding_alerts import ALERTED_REFUSALS
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.services.signin_sessions import load_active_signin

LINK_EXPIRED = (
    "Время ожидания привязки истекло, или вы вышли из кабинета. Откройте «Личный кабинет» и начните заново."
)


@dataclass(frozen=True)
class LinkProof:
    """Who asked to link, in which sign-in session: only that session can finish it."""

    staff_id: int
    sid: str

    def as_parked(self) -> dict[str, Any]:
        return {"staff_id": self.staff_id, "sid": self.sid}


@dataclass(frozen=True)
class ProviderLinked:
    provider: str


def start_linking(
    database: sessionmaker[Session],
    audit: AuditContext,
    browser_id: str,
    signin_session_id: str,
    provider: str,
    *,
    state: str,
    ttl: timedelta,
    rules: SignInRules,
) -> LinkProof:
    """Park the link proof under the round trip's `state`; SignInRefused when not signed in here."""
    with signin_unit_of_work(database, audit) as db:
        active = load_active_signin(db, signin_session_id, timeouts=rules.timeouts)
        if active is None:
            raise SignInRefused("link_no_session", LINK_EXPIRED, event="binding.link_refused", provider=provider)
        if any(binding.provider == provider for binding in active.staff.bindings):
            raise SignInRefused(
                "already_bound", "Этот способ входа уже привязан.", event="binding.link_refused",
                retryable=False, subject_staff_id=active.staff.id, provider=provider,
            )
        proof = LinkProof(staff_id=active.staff.id, sid=active.session.sid)
        flow_state.park(
            db, browser_id, FlowKind.LINK_PROOF, proof.as_parked(), ttl=ttl, key=state, staff_id=proof.staff_id
        )
        record(db, audit, "binding.link_started", "success", subject_staff_id=proof.staff_id, provider=provider)
        return proof


def take_link_proof(database: sessionmaker[Session], browser_id: str, state: str) -> LinkProof | None:
    data = flow_steps.take(database, browser_id, FlowKind.LINK_PROOF, state)
    return LinkProof(staff_id=int(data["staff_id"]), sid=str(data["sid"])) if data is not None else None


def link_provider(
    database: sessionmaker[Session],
    audit: AuditContext,
    proof: LinkProof | None,
    identity: ExternalIdentity,
    signin_session_id: str | None,
    rules: SignInRules,
) -> ProviderLinked:
    """Bind `identity` to the person who started the link, if this browser is still signed in as them.

    Raises SignInRefused (audited as `binding.refused`), writing nothing else; the person's
    administrators are mailed when the identity is someone else's or its name does not match.
    """
    staff_id = proof.staff_id if proof is not None else None
    try:
        with signin_unit_of_work(database, audit) as db:
            active = (
                load_active_signin(db, signin_session_id, timeouts=rules.timeouts)
                if signin_session_id is not None else None
            )
            if proof is None or active is None or active.session.sid != proof.sid or active.staff.id != proof.staff_id:
                raise SignInRefused(
                    "link_no_session", LINK_EXPIRED, event="binding.refused", subject_staff_id=staff_id,
                    provider=identity.provider, reason="link_no_session",
                )
            try:
                binding = create_linked_binding(db, audit, proof.staff_id, identity, policy=rules.binding)
            except BindingRefused as refusal:
                raise refused_binding(refusal, proof.staff_id, identity) from refusal
            notices.binding_created(db, binding.staff, identity, audit.address)
            return ProviderLinked(provider=identity.provider)
    except SignInRefused as refusal:
        if staff_id is not None and refusal.code in ALERTED_REFUSALS:
            notices.alert_refused_binding(database, audit, staff_id, identity, refusal.code)
        raise
