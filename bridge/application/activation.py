"""Following a mailed activation link: the first sign-in of a person who never holds a password.

- `inspect_activation_link` (the GET of the mailed link) only reads: mail scanners open links
  before people do, so nothing is spent or written there;
- `accept_activation_link` (the person presses «Продолжить через …») checks the link again,
  counts one of its starts and parks an activation proof keyed by the `state` of the round trip
  it starts, in this browser (a reset or block discards it, like a local-password proof);
- `bind_through_activation` (the upstream answered that round trip) binds in one transaction in
  which the link is taken: the name (and СНИЛС) must match the card, a refusal leaves the link
  unused, and a second use binds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bridge.application import flow_steps
from bridge.application.first_signin import BindingOrder, counted_binding
from bridge.application.signin import SessionStarted, SignInRules, open_session
from bridge.application.signin_refusals import SignInRefused, record_refusal, signin_unit_of_work
from bridge.services import flow_state
from bridge.services.activation_links import (
    ActivationProof,
    LinkState,
    check_activation_link,
    reserve_activation_start,
    revoke_activation_links,
)
from bridge.services.audit import AuditContext, record
from bridge.services.binding import BindingRefused, create_binding_through_link
from bridge.services.external_identity import ExternalIdentity
from bridge.services.flow_state import FlowKind
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ActivationLink, StaffMember

# What a person reads when a link cannot start a sign-in, and what to do about it.
LINK_MESSAGES = {
    LinkState.UNKNOWN: "Ссылка не найдена: возможно, она скопирована из письма не полностью. Откройте её прямо "
    "из письма; если это не поможет, попросите администратора выслать новую ссылку.",
    LinkState.EXPIRED: "Срок действия ссылки истёк: она действует 72 часа. Попросите администратора, который "
    "одобрил вашу заявку, выслать новую ссылку.",
    LinkState.USED: "Ссылка уже использована: учётная запись привязана. Входите через Госуслуги (РСАА) "
    "на странице входа.",
    LinkState.REVOKED: "Ссылка больше не действует: вам выслали более новую ссылку, или администратор изменил "
    "доступ. Откройте последнее письмо или попросите администратора выслать новую ссылку.",
}
TOO_MANY_STARTS = (
    "Ссылка больше не действует: по ней было слишком много попыток входа. Попросите администратора "
    "выслать новую ссылку."
)
BLOCKED = "Учётная запись заблокирована. Обратитесь к администратору вашей организации."
NAME_MISMATCH = (
    "Фамилия и имя (или СНИЛС) во внешней учётной записи не совпадают с данными заявки. Если вы вошли "
    "не под своей учётной записью, выйдите из неё и снова откройте ссылку из письма: ссылка ещё "
    "действует. Если в заявке ошибка, обратитесь к администратору вашей организации."
)
PROOF_EXPIRED = (
    "Время ожидания входа истекло или вход начат в другом браузере. Откройте ссылку из письма ещё раз."
)


@dataclass(frozen=True)
class ActivationLinkView:
    state: LinkState
    # When a usable link stops working.
    expires_at: datetime | None
    # What to tell the person when the link is not usable.
    message: str | None


def inspect_activation_link(database: sessionmaker[Session], token: str) -> ActivationLinkView:
    """Where the link stands; reads only (a mail scanner's GET must spend nothing)."""
    with database() as db:
        check = check_activation_link(db, token)
        if check.state is not LinkState.USABLE:
            return ActivationLinkView(check.state, None, LINK_MESSAGES[check.state])
        link = db.get(ActivationLink, check.link_id)
        return ActivationLinkView(check.state, link.expires_at if link is not None else None, None)


def accept_activation_link(
    database: sessionmaker[Session], audit: AuditContext, browser_id: str, token: str, *, key: str, ttl: timedelta,
) -> ActivationProof:
    """Park the proof under `key` (the round trip's `state`) in this browser; raises SignInRefused.

    A link that cannot be used is refused with what to do; the link's starts are counted first,
    and once they are spent the link is revoked (committed with the refusal's audit record).
    """
    refusal: SignInRefused | None = None
    with transaction(database) as db:
        check = check_activation_link(db, token)
        if check.state is not LinkState.USABLE or check.link_id is None or check.staff_id is None:
            refusal = SignInRefused(
                f"link_{check.state.value}", LINK_MESSAGES[check.state], event="activation.refused",
                reason=check.state.value, link_id=check.link_id, subject_staff_id=check.staff_id,
            )
        elif not reserve_activation_start(db, check.link_id):
            revoke_activation_links(db, check.staff_id)
            refusal = SignInRefused(
                "link_too_many_starts", TOO_MANY_STARTS, event="activation.refused", reason="too_many_starts",
                link_id=check.link_id, subject_staff_id=check.staff_id,
            )
        else:
            staff = db.get(StaffMember, check.staff_id)
            if staff is None or staff.status != StaffStatus.ACTIVE:
                refusal = SignInRefused(
                    "blocked", BLOCKED, event="activation.refused", reason="blocked", link_id=check.link_id,
                    subject_staff_id=check.staff_id,
                )
            else:
                proof = ActivationProof(link_id=check.link_id, staff_id=check.staff_id)
                flow_state.park(
                    db, browser_id, FlowKind.ACTIVATION_PROOF, proof.as_parked(), ttl=ttl, key=key,
                    staff_id=proof.staff_id,
                )
                record(
                    db, audit, "activation.started", "success", subject_staff_id=proof.staff_id,
                    link_id=proof.link_id, login=staff.login,
                )
                return proof
    # The refusal is written after the commit: a revoked link stays revoked.
    record_refusal(database, audit, refusal)
    raise refusal


def take_activation_proof(database: sessionmaker[Session], browser_id: str, key: str) -> ActivationProof | None:
    """The proof this round trip parked, taken: whoever takes it first has it."""
    data = flow_steps.take(database, browser_id, FlowKind.ACTIVATION_PROOF, key)
    return ActivationProof.from_parked(data) if data is not None else None


def refuse_missing_proof(database: sessionmaker[Session], audit: AuditContext, provider: str) -> SignInRefused:
    """The round trip was started from a link, but its proof is gone (expired, or a reset discarded it)."""
    refusal = SignInRefused(
        "no_flow", PROOF_EXPIRED, event="activation.refused", retryable=False, reason="proof_missing",
        provider=provider,
    )
    record_refusal(database, audit, refusal)
    return refusal


def bind_through_activation(
    database: sessionmaker[Session],
    audit: AuditContext,
    proof: ActivationProof,
    identity: ExternalIdentity,
    *,
    replaces_session: str | None,
    rules: SignInRules,
) -> SessionStarted:
    """Bind the person of the link to the external identity and open the first session.

    Raises SignInRefused (audited as `binding.refused`, `via` the activation link) and writes
    nothing — the link stays unused — when a binding rule refuses.
    """
    with counted_binding(BindingOrder.ACTIVATION_LINK.value), signin_unit_of_work(database, audit) as db:
        try:
            create_binding_through_link(
                db, audit, proof, identity, policy=rules.binding, flow=BindingOrder.ACTIVATION_LINK.value
            )
        except BindingRefused as refusal:
            message = NAME_MISMATCH if refusal.code == "identity_mismatch" else refusal.message
            raise SignInRefused(
                refusal.code, message, event="binding.refused", via=BindingOrder.ACTIVATION_LINK.value,
                provider=identity.provider, external_subject=identity.subject, reason=refusal.code,
                link_id=proof.link_id, subject_staff_id=proof.staff_id,
            ) from refusal
        staff = db.get(StaffMember, proof.staff_id)
        assert staff is not None
        return open_session(
            db, audit, staff, identity, remember=False, replaces_session=replaces_session,
            via=BindingOrder.ACTIVATION_LINK.value, rules=rules,
        )
