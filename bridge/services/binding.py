"""Binding a local staff account to an external identity, and finding the binding later.

All binding rules live here and run in the caller's single transaction: the local password
must be valid, unexpired and never used for a binding; the external identity must not be bound
to anyone else; the staff member must have no binding with that provider yet. After binding,
the password is retired: from then on only the external ID opens the account.

The upstream policies (a confirmed ESIA account, an accepted `acr`) are one function,
`check_identity_policy`, run at binding and again at every later sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from bridge.services.activation_links import ActivationProof, revoke_activation_links, take_activation_link
from bridge.services.audit import AuditContext, record
from bridge.services.credentials import CredentialOnFile, check_issued_credential
from bridge.services.errors import DomainError
from bridge.services.external_identity import ExternalIdentity
from bridge.services.grantees import PERSON_COLUMNS, ROLE_COLUMNS, GrantedPerson, GrantedRole
from bridge.services.person_names import same_name
from bridge.services.signin_sessions import is_role_active
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ExternalBinding, Organization, RoleAssignment, StaffMember
from bridge.storage.types import utcnow

# How fresh a binding's «последний вход» is kept (administrators read it by the day).
LAST_USE_GRANULARITY = timedelta(minutes=10)

_BINDINGS = cast(Table, ExternalBinding.__table__)
# Read at every returning sign-in: built once (its cache key computed once) and run as plain
# columns, so no person, role or organization object is built, tracked or looked over at the
# commit. The binding (what its last use needs), the person, and every role of theirs with its
# organization (the session's role and the app's answer need them): a row per role, one row with
# empty role columns for a person without any. One statement, as the objects were.
_BOUND_PERSON = (
    select(
        _BINDINGS.c.id.label("binding_id"),
        _BINDINGS.c.last_used_at,
        StaffMember.id.label("staff_id"),
        StaffMember.status,
        StaffMember.session_generation,
        *PERSON_COLUMNS,
        *ROLE_COLUMNS,
    )
    .select_from(_BINDINGS)
    .join(StaffMember, StaffMember.id == _BINDINGS.c.staff_id)
    .outerjoin(RoleAssignment, RoleAssignment.staff_id == StaffMember.id)
    .outerjoin(Organization, Organization.id == RoleAssignment.organization_id)
    .where(_BINDINGS.c.issuer == bindparam("issuer"), _BINDINGS.c.subject == bindparam("subject"))
    .order_by(RoleAssignment.id)
)
_NOTE_LAST_USE = update(_BINDINGS).where(_BINDINGS.c.id == bindparam("binding_id")).values(last_used_at=bindparam("at"))
# Built once (its cache key computed once), run as columns: the identity's binding (anyone's) and
# the person's binding with the provider, as `_bind` judges them.
_TAKEN_OR_HELD = select(_BINDINGS.c.staff_id, _BINDINGS.c.issuer, _BINDINGS.c.subject).where(
    or_(
        and_(_BINDINGS.c.issuer == bindparam("issuer"), _BINDINGS.c.subject == bindparam("subject")),
        and_(_BINDINGS.c.staff_id == bindparam("staff_id"), _BINDINGS.c.provider == bindparam("provider")),
    )
)

_INSERT_BINDING = insert(_BINDINGS).returning(_BINDINGS.c.id)
_STAFF = cast(Table, StaffMember.__table__)
_RETIRE_PASSWORD = (
    update(_STAFF)
    .where(_STAFF.c.id == bindparam("staff_id"))
    .values(password_hash=None, credential_used_at=bindparam("at"))
)
# Whether anyone is bound to an identity: one column, no person loaded.
_ANYONE_BOUND = (
    select(_BINDINGS.c.id)
    .where(_BINDINGS.c.issuer == bindparam("issuer"), _BINDINGS.c.subject == bindparam("subject"))
    .limit(1)
)

CONTACT_ADMINISTRATOR = "Обратитесь к администратору вашей организации."


class BindingRefused(DomainError):
    """The binding may not be made; `code` says why, `message` tells the person what to do."""


@dataclass(frozen=True)
class BindingPolicy:
    require_confirmed_esia_account: bool = False
    # Every binding; a binding whose code was not bound to the browser demands it regardless.
    require_name_match: bool = False


@dataclass(frozen=True)
class LocalProof:
    """The browser proved this staff member's issued password; valid for that credential only."""

    staff_id: int
    credential_issued_at: datetime

    def as_parked(self) -> dict[str, str | int]:
        return {"staff_id": self.staff_id, "credential_issued_at": self.credential_issued_at.isoformat()}

    @classmethod
    def from_parked(cls, data: dict[str, str | int]) -> LocalProof:
        return cls(
            staff_id=int(data["staff_id"]),
            credential_issued_at=datetime.fromisoformat(str(data["credential_issued_at"])),
        )


def prove_local_credential(db: Session, login: str, password: str, now: datetime | None = None) -> LocalProof:
    """Check the issued password (raises CredentialRefused); modifies nothing."""
    staff = check_issued_credential(db, login, password, now or utcnow())
    assert staff.credential_issued_at is not None
    return LocalProof(staff_id=staff.id, credential_issued_at=staff.credential_issued_at)


def proof_of(judged: CredentialOnFile) -> LocalProof:
    """The proof a credential judged valid (bridge.services.credentials.judge_issued_credential) gives."""
    assert judged.issued_at is not None
    return LocalProof(staff_id=judged.staff_id, credential_issued_at=judged.issued_at)


@dataclass(frozen=True)
class BoundPerson:
    """The person bound to an identity, as a returning sign-in reads them: plain values."""

    id: int
    status: StaffStatus
    session_generation: int
    email: str | None
    # What relying apps are told of the person.
    person: GrantedPerson
    # Every role of the person with its organization, in id order (`current_roles` judges the dates).
    roles: tuple[DatedRole, ...]

    def current_roles(self, now: datetime) -> tuple[GrantedRole, ...]:
        """The roles active on `now`'s date, as `signin_sessions.current_roles` keeps them."""
        return tuple(role.granted for role in self.roles if is_role_active(role, now))


@dataclass(frozen=True)
class DatedRole:
    """A role of the bound person with the dates that say whether it is current."""

    granted: GrantedRole
    start_date: date
    end_date: date | None


def find_bound_person(db: Session, identity: ExternalIdentity, now: datetime | None = None) -> BoundPerson | None:
    """The person bound to `identity` (binding, person and their roles with organizations in one
    statement, read as columns), or None.

    The binding's last use is shown to administrators by the day: it is written when it is over
    LAST_USE_GRANULARITY old, not at every sign-in (a write per sign-in queues on SQLite's lock).
    """
    now = now or utcnow()
    rows = db.connection().execute(_BOUND_PERSON, {"issuer": identity.issuer, "subject": identity.subject}).all()
    if not rows:
        return None
    first = rows[0]
    if first.last_used_at is None or first.last_used_at <= now - LAST_USE_GRANULARITY:
        # A Core UPDATE: no binding object is loaded, so none is left dirty for the commit's flush.
        db.connection().execute(_NOTE_LAST_USE, {"binding_id": first.binding_id, "at": now})
    person = GrantedPerson.of_row(first.staff_id, first)
    roles = tuple(
        DatedRole(GrantedRole.of_row(row), row.start_date, row.end_date) for row in rows if row.role_id is not None
    )
    return BoundPerson(first.staff_id, first.status, first.session_generation, first.email, person, roles)


def anyone_bound(db: Session, identity: ExternalIdentity) -> bool:
    """Whether the identity is bound to someone: a probe before `find_bound_person` where a miss is expected."""
    found = db.connection().execute(_ANYONE_BOUND, {"issuer": identity.issuer, "subject": identity.subject})
    return found.first() is not None


def create_binding(
    db: Session,
    audit: AuditContext,
    proof: LocalProof,
    identity: ExternalIdentity,
    *,
    policy: BindingPolicy,
    flow: str,
    now: datetime | None = None,
) -> ExternalBinding:
    """Bind and retire the password, or raise BindingRefused (the caller's transaction rolls back).

    The first sign-in as a whole (this, then a sign-in session) is the application layer's
    `bridge.application.first_signin.bind_external_identity`.
    """
    now = now or utcnow()
    # populate_existing: the card as the lock finds it, even when the transaction read it before
    # (the password page's administrators' alert does): a stale copy would pass a used password.
    staff = db.get(StaffMember, proof.staff_id, with_for_update=True, populate_existing=True)
    if (
        staff is None
        or staff.status != StaffStatus.ACTIVE
        or staff.password_hash is None
        or staff.credential_used_at is not None
        or staff.credential_issued_at != proof.credential_issued_at
        or staff.credential_expires_at is None
        or staff.credential_expires_at <= now
    ):
        # The credential changed since it was proved (reset, used, expired, blocked).
        raise BindingRefused(
            "credential_no_longer_valid",
            "Логин и пароль больше не действуют: возможно, пароль сбросили или срок его действия истёк. "
            + CONTACT_ADMINISTRATOR,
        )
    _check_policies(staff, identity, policy)
    binding = _bind(db, audit, staff, identity, flow=flow, now=now)
    # The password retired by a plain UPDATE built once; the loaded card says so without a flush.
    db.connection().execute(_RETIRE_PASSWORD, {"staff_id": staff.id, "at": now})
    set_committed_value(staff, "password_hash", None)
    set_committed_value(staff, "credential_used_at", now)
    # A link mailed earlier must not bind a second account to this person later.
    revoke_activation_links(db, staff.id, now)
    return binding


def create_binding_through_link(
    db: Session,
    audit: AuditContext,
    proof: ActivationProof,
    identity: ExternalIdentity,
    *,
    policy: BindingPolicy,
    flow: str,
    now: datetime | None = None,
) -> ExternalBinding:
    """Bind through a mailed activation link, or raise BindingRefused (the caller rolls back).

    A mailbox is weaker proof than a password handed over in person, so the upstream's surname and
    name (and СНИЛС, when the card has one) must match the staff card whatever the policy says.
    The link is taken here, in the binding's transaction: a refusal leaves it unused, and of two
    bindings racing through one link exactly one takes it.
    """
    now = now or utcnow()
    staff = db.get(StaffMember, proof.staff_id, with_for_update=True, populate_existing=True)
    if staff is None or staff.status != StaffStatus.ACTIVE:
        raise BindingRefused(
            "activation_no_longer_valid",
            "Ссылка больше не действует: учётная запись заблокирована или изменена. " + CONTACT_ADMINISTRATOR,
        )
    _check_policies(staff, identity, replace(policy, require_name_match=True))
    if staff.bindings:
        # A link starts the first binding only; a bound person signs in through what they bound.
        raise BindingRefused(
            "already_bound", "Ваша учётная запись уже привязана. Входите через внешнюю учётную запись."
        )
    if not take_activation_link(db, proof.link_id, staff.id, now):
        raise BindingRefused(
            "activation_no_longer_valid",
            "Ссылка уже использована, отозвана или её срок истёк. Если учётная запись уже привязана, "
            "входите через Госуслуги (РСАА); иначе попросите администратора выслать новую ссылку.",
        )
    binding = _bind(db, audit, staff, identity, flow=flow, now=now, link_id=proof.link_id)
    if staff.password_hash is not None:
        # A password issued earlier is retired too: from now on only the external ID opens the account.
        staff.password_hash = None
        staff.credential_used_at = now
    db.flush()
    return binding


def create_linked_binding(
    db: Session,
    audit: AuditContext,
    staff_id: int,
    identity: ExternalIdentity,
    *,
    policy: BindingPolicy,
    now: datetime | None = None,
) -> ExternalBinding:
    """«Привязать ещё один способ входа» from the person's own page; BindingRefused otherwise.

    The person is signed in through a binding already, so no password is asked; like a binding
    through a mailed link, the new identity's name (and СНИЛС) must match the card whatever the
    policy says, and an identity bound to someone else is refused.
    """
    now = now or utcnow()
    staff = db.get(StaffMember, staff_id, with_for_update=True, populate_existing=True)
    if staff is None or staff.status != StaffStatus.ACTIVE:
        raise BindingRefused(
            "link_no_longer_valid", "Учётная запись заблокирована или отключена. " + CONTACT_ADMINISTRATOR
        )
    if not staff.bindings:
        # Linking adds a second way in; the first one is bound at the first sign-in.
        raise BindingRefused("link_no_longer_valid", "Сначала войдите через внешнюю учётную запись.")
    _check_policies(staff, identity, replace(policy, require_name_match=True))
    return _bind(db, audit, staff, identity, flow="link", now=now)


def _bind(
    db: Session, audit: AuditContext, staff: StaffMember, identity: ExternalIdentity, *, flow: str, now: datetime,
    **details: Any,
) -> ExternalBinding:
    """The binding row and its audit record, once the person is proved; BindingRefused if taken."""
    # One query for both rules: the identity's binding (anyone's), this person's with the provider.
    found = db.connection().execute(
        _TAKEN_OR_HELD,
        {"issuer": identity.issuer, "subject": identity.subject, "staff_id": staff.id, "provider": identity.provider},
    ).all()
    taken = [row for row in found if row.issuer == identity.issuer and row.subject == identity.subject]
    if any(row.staff_id != staff.id for row in taken):
        raise BindingRefused(
            "identity_bound_to_another",
            "Эта учётная запись уже привязана к другому сотруднику. " + CONTACT_ADMINISTRATOR,
        )
    if found:
        raise BindingRefused(
            "already_bound",
            "Ваша учётная запись уже привязана. Входите через внешнюю учётную запись.",
        )

    row = {
        "staff_id": staff.id,
        "provider": identity.provider,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "flow": flow,
        "created_at": now,
        "last_used_at": now,
    }
    try:
        # A plain INSERT built once (the ORM's flush of one object cost more than the rest of it).
        binding_id = db.connection().execute(_INSERT_BINDING, row).scalar_one()
    except IntegrityError:
        # A concurrent first sign-in bound the same identity or provider first.
        raise BindingRefused(
            "already_bound",
            "Эта учётная запись уже привязана. Попробуйте войти ещё раз.",
        ) from None
    # The row is written: the object joins the session as if loaded (clean, in the identity map).
    binding = ExternalBinding(id=binding_id, **row)
    make_transient_to_detached(binding)
    db.add(binding)
    # The binding holds its person: what follows in the transaction reads `binding.staff` without
    # selecting the row again (the session's identity map holds it only weakly).
    set_committed_value(binding, "staff", staff)
    record(
        db,
        audit,
        "binding.created",
        "success",
        subject_staff_id=staff.id,
        provider=identity.provider,
        issuer=identity.issuer,
        external_subject=identity.subject,
        flow=flow,
        login=staff.login,
        **details,
    )
    return binding


def check_identity_policy(identity: ExternalIdentity, policy: BindingPolicy) -> None:
    """What an external identity must satisfy to open an account: at binding and at every sign-in.

    Raises BindingRefused. An account confirmed at binding time may be downgraded later, and a
    provider's required `acr` may be raised after people bound: both are checked every time.
    """
    if policy.require_confirmed_esia_account and identity.provider_kind == "esia" and identity.trusted is not True:
        raise BindingRefused(
            "unconfirmed_account",
            "Ваша учётная запись на Госуслугах не подтверждена. Подтвердите её (например, в МФЦ "
            "или через онлайн-банк) и повторите вход. " + CONTACT_ADMINISTRATOR,
        )
    if identity.accepted_acr and identity.acr not in identity.accepted_acr:
        raise BindingRefused(
            "insufficient_acr",
            "Способ, которым вы вошли во внешнюю учётную запись, недостаточно надёжен для этой системы. "
            "Войдите способом с более высоким уровнем подтверждения (например, с электронной подписью "
            "или вторым фактором) и повторите. " + CONTACT_ADMINISTRATOR,
        )


def _check_policies(staff: StaffMember, identity: ExternalIdentity, policy: BindingPolicy) -> None:
    check_identity_policy(identity, policy)
    # Without a code bound to this browser (ESIA not echoing the nonce), someone else's code could
    # have been injected: only the staff card's name and СНИЛС tell whose account this is.
    if policy.require_name_match or not identity.code_bound:
        names_match = same_name(staff.surname, identity.surname) and same_name(staff.name, identity.name)
        snils_ok = staff.snils is None or staff.snils == identity.snils
        if not (names_match and snils_ok):
            raise BindingRefused(
                "identity_mismatch",
                "Данные внешней учётной записи (фамилия, имя или СНИЛС) не совпадают с карточкой "
                "сотрудника. Попросите администратора проверить карточку.",
            )

