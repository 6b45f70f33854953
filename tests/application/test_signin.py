"""The sign-in use cases without HTTP: each its own transaction, refusals audited by their event."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.first_signin import (
    AwaitedPassword,
    BindingOrder,
    ParkedProof,
    PasswordBound,
    ProofParkedAtPassword,
    bind_external_identity,
    password_step,
    peek_local_proof,
    peek_pending_binding,
    prove_password_for_binding,
    sign_in_unless_proof_parked,
)
from bridge.application.signin import (
    RoleUnavailable,
    SessionStarted,
    SignInRules,
    choose_role,
    current_signin,
    role_options,
    sign_out,
)
from bridge.application.signin_refusals import SignInRefused
from bridge.config import Settings
from bridge.services.audit import AuditContext
from bridge.services.binding import LocalProof
from bridge.services.external_identity import ExternalIdentity
from bridge.services.grantees import AuthorizingSignIn, load_authorizing_signin
from bridge.services.roles import Role
from bridge.services.throttle import login_throttle
from bridge.storage.models import (
    AuditEvent,
    ExternalBinding,
    RoleAssignment,
    SignInSession,
    StaffMember,
    ThrottleCounter,
)
from bridge.storage.types import utcnow
from tests.support.factories import give_role, make_organization, make_staff

AUDIT = AuditContext(actor="anonymous", address="127.0.0.1")
PASSWORD = "Qw7!rtyPass9"


def identity(subject: str = "1000001") -> ExternalIdentity:
    return ExternalIdentity(provider="rsaa", issuer="https://rsaa.test/", subject=subject, surname="Иванова")


def person(db_factory: sessionmaker[Session], roles: int = 1) -> tuple[int, str]:
    with db_factory() as db, db.begin():
        staff = make_staff(db, password=PASSWORD)
        for _ in range(roles):
            give_role(db, staff, make_organization(db), Role.SCHOOL_DEPUTY)
        return staff.id, staff.login


def events(db_factory: sessionmaker[Session], name: str) -> list[AuditEvent]:
    with db_factory() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def prove(db_factory: sessionmaker[Session], rules: SignInRules, login: str) -> LocalProof:
    """The issued password proved, as the password step does (nothing pending in this browser)."""
    proof, pending = prove_password_for_binding(db_factory, AUDIT, "browser-0", login, PASSWORD, rules.throttle)
    assert pending is None
    return proof


def sign_in(
    db_factory: sessionmaker[Session],
    rules: SignInRules,
    *,
    remember: bool = False,
    replaces_session: str | None = None,
) -> SessionStarted | None:
    """A returning sign-in as the upstream callback makes it, in a browser with no password proved."""
    started = sign_in_unless_proof_parked(
        db_factory, AUDIT, "browser-1", identity(), remember=remember, replaces_session=replaces_session, rules=rules
    )
    assert not isinstance(started, ParkedProof)
    return started


def first_signin(db_factory: sessionmaker[Session], rules: SignInRules, login: str, subject: str = "1000001") -> str:
    proof = prove(db_factory, rules, login)
    started = bind_external_identity(
        db_factory, AUDIT, proof, identity(subject), order=BindingOrder.EXTERNAL_FIRST,
        remember=False, replaces_session=None, rules=rules,
    )
    return started.signin_session_id


def test_first_signin_binds_opens_a_session_and_later_sign_ins_need_only_the_external_id(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    assert sign_in(db_factory, rules) is None

    session_id = first_signin(db_factory, rules, login)
    active = current_signin(db_factory, session_id, rules.timeouts)
    assert active is not None and active.staff.id == staff_id and active.role is not None

    again = sign_in(db_factory, rules, remember=True, replaces_session=session_id)
    assert again is not None and again.remember and not again.needs_role_choice
    assert current_signin(db_factory, session_id, rules.timeouts) is None  # replaced
    with pytest.raises(SignInRefused) as refused:
        prove(db_factory, rules, login)
    assert refused.value.code == "password_refused"
    assert [event.details["reason"] for event in events(db_factory, "signin.password_refused")] == ["already_used"]


def test_a_wrong_password_leaves_the_pending_binding_and_the_right_one_takes_it_once(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    # The callback finds nobody bound to the identity and parks it, waiting for the password.
    assert sign_in_unless_proof_parked(
        db_factory, AUDIT, "browser-1", identity(), remember=False, replaces_session=None, rules=rules,
        awaiting=AwaitedPassword({"next": "/app"}, rules.step_ttl),
    ) is None

    with pytest.raises(SignInRefused) as refused:
        prove_password_for_binding(db_factory, AUDIT, "browser-1", login, "Wrong-pass-1!", rules.throttle)
    assert refused.value.code == "password_refused"
    assert [event.details["reason"] for event in events(db_factory, "signin.password_refused")] == ["wrong_password"]
    assert peek_pending_binding(db_factory, "browser-1") is not None

    proof, pending = prove_password_for_binding(db_factory, AUDIT, "browser-1", login, PASSWORD, rules.throttle)
    assert proof.staff_id == staff_id
    assert pending is not None and pending.identity.subject == identity().subject
    assert pending.flow_data == {"next": "/app"}
    # Single use: the next proof in this browser finds nothing parked.
    assert prove_password_for_binding(db_factory, AUDIT, "browser-1", login, PASSWORD, rules.throttle)[1] is None


def test_a_refused_binding_writes_nothing_but_its_own_audit_record(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    _, first = person(db_factory)
    _, second = person(db_factory)
    first_signin(db_factory, rules, first)

    with pytest.raises(SignInRefused) as refused:
        first_signin(db_factory, rules, second)
    assert (refused.value.code, refused.value.event) == ("identity_bound_to_another", "binding.refused")
    [audited] = events(db_factory, "binding.refused")
    assert audited.outcome == "refused" and audited.details["reason"] == "identity_bound_to_another"
    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(SignInSession)) == 1
        assert db.scalars(select(StaffMember).where(StaffMember.login == second)).one().password_hash is not None


def test_a_blocked_person_is_refused_at_sign_in_and_it_is_audited(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    first_signin(db_factory, rules, login)
    with db_factory() as db, db.begin():
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        staff.status = "blocked"

    with pytest.raises(SignInRefused) as refused:
        sign_in(db_factory, rules)
    assert refused.value.code == "blocked"
    assert [event.details["reason"] for event in events(db_factory, "signin.refused")] == ["blocked"]


def test_only_ones_own_active_role_can_be_chosen_and_sign_out_ends_the_session(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    _, login = person(db_factory, roles=2)
    other_id, _ = person(db_factory)
    session_id = first_signin(db_factory, rules, login)
    with db_factory() as db:
        other = db.get(StaffMember, other_id)
        assert other is not None
        others_role = other.roles[0].id

    with pytest.raises(RoleUnavailable):
        choose_role(db_factory, AUDIT, session_id, others_role)
    assert events(db_factory, "signin.role_chosen") == []

    active = current_signin(db_factory, session_id, rules.timeouts)
    assert active is not None and active.role is None
    [own_role, _] = role_options(db_factory, active.staff.id)
    assert choose_role(db_factory, AUDIT, session_id, own_role.role_assignment_id).role == Role.SCHOOL_DEPUTY.value
    assert sign_out(db_factory, AUDIT, session_id).ended
    assert current_signin(db_factory, session_id, rules.timeouts) is None


def test_a_binding_last_use_is_written_at_most_every_ten_minutes(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    """Administrators see «последний вход» by the binding; a write per sign-in would queue on SQLite's lock."""
    rules = SignInRules.of(settings)
    _, login = person(db_factory)
    first_signin(db_factory, rules, login)

    def last_use() -> datetime | None:
        with db_factory() as db:
            return db.scalars(select(ExternalBinding.last_used_at)).one()

    def set_last_use(when: datetime) -> None:
        with db_factory() as db, db.begin():
            db.execute(update(ExternalBinding).values(last_used_at=when))

    def returning_sign_in() -> None:
        assert sign_in(db_factory, rules) is not None

    recent = utcnow() - timedelta(minutes=9)
    set_last_use(recent)
    returning_sign_in()
    assert last_use() == recent

    stale = utcnow() - timedelta(minutes=11)
    set_last_use(stale)
    before = utcnow()
    returning_sign_in()
    written = last_use()
    assert written is not None and written >= before - timedelta(seconds=1)


def park_pending(db_factory: sessionmaker[Session], rules: SignInRules, browser: str, next_url: str = "/app") -> None:
    """The callback found nobody bound to identity() and parked it in `browser`, waiting for the password."""
    assert sign_in_unless_proof_parked(
        db_factory, AUDIT, browser, identity(), remember=False, replaces_session=None, rules=rules,
        awaiting=AwaitedPassword({"next": next_url}, rules.step_ttl),
    ) is None


def counters(db_factory: sessionmaker[Session]) -> dict[str, int]:
    with db_factory() as db:
        return {row.key: row.attempts for row in db.scalars(select(ThrottleCounter))}


def test_the_password_step_binds_the_pending_identity_and_settles_the_attempt_in_one_transaction(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    park_pending(db_factory, rules, "browser-2")
    transactions = 0

    def begun(_session: Session, _transaction: object, _connection: object) -> None:
        nonlocal transactions
        transactions += 1

    event.listen(db_factory, "after_begin", begun)
    try:
        done = password_step(
            db_factory, AUDIT, "browser-2", login, PASSWORD, rules=rules, remember=False, park_proof_with=None
        )
    finally:
        event.remove(db_factory, "after_begin", begun)
    assert isinstance(done, PasswordBound) and done.flow_data == {"next": "/app"}
    # The attempt reserved before the hash, then everything else after it.
    assert transactions == 2
    active = current_signin(db_factory, done.started.signin_session_id, rules.timeouts)
    assert active is not None and active.staff.id == staff_id
    assert peek_pending_binding(db_factory, "browser-2") is None
    # The success cleared the login's counters and gave the address its attempt back.
    assert counters(db_factory) == {"address:127.0.0.1": 0}
    [bound] = events(db_factory, "binding.created")
    assert bound.details["flow"] == BindingOrder.EXTERNAL_FIRST.value


def test_the_password_step_without_a_pending_binding_parks_the_proof_or_does_nothing(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    assert password_step(
        db_factory, AUDIT, "browser-3", login, PASSWORD, rules=rules, remember=False, park_proof_with=None
    ) is None
    assert peek_local_proof(db_factory, "browser-3") is None
    parked = password_step(
        db_factory, AUDIT, "browser-3", login, PASSWORD, rules=rules, remember=True,
        park_proof_with={"remember": True, "next": "/app"},
    )
    assert parked is ProofParkedAtPassword.PARKED
    proof = peek_local_proof(db_factory, "browser-3")
    assert proof is not None and proof.proof.staff_id == staff_id
    assert proof.flow_data == {"remember": True, "next": "/app"}
    assert len(events(db_factory, "signin.password_accepted")) == 1
    with db_factory() as db:
        assert login_throttle(db, login, rules.throttle) is None


def test_a_binding_refused_at_the_password_step_still_spends_the_pending_binding_and_settles_the_attempt(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    """The binding runs in the transaction that settles the success and takes the pending binding:
    its refusal rolls all of that back, and the success and the spending are made again on their own."""
    rules = SignInRules.of(settings)
    _, first = person(db_factory)
    _, second = person(db_factory)
    park_pending(db_factory, rules, "browser-2")
    # Meanwhile the same identity is bound to someone else.
    first_signin(db_factory, rules, first)

    with pytest.raises(SignInRefused) as refused:
        password_step(
            db_factory, AUDIT, "browser-2", second, PASSWORD, rules=rules, remember=False, park_proof_with=None
        )
    assert (refused.value.code, refused.value.event) == ("identity_bound_to_another", "binding.refused")
    assert peek_pending_binding(db_factory, "browser-2") is None
    assert counters(db_factory) == {"address:127.0.0.1": 0}
    [audited] = events(db_factory, "binding.refused")
    assert audited.details["reason"] == "identity_bound_to_another"
    assert [alert.details["reason"] for alert in events(db_factory, "security.alert")] == ["identity_bound_to_another"]
    with db_factory() as db:
        # Nothing of the refused binding stays: the second person's password is still theirs to use.
        assert db.scalars(select(StaffMember).where(StaffMember.login == second)).one().password_hash is not None
        assert db.scalar(select(func.count()).select_from(ExternalBinding)) == 1


def test_a_second_look_after_finding_nobody_still_signs_in_whoever_was_bound_meanwhile(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    """The callback's look with the whole identity probes the binding by one column when its first
    look found nobody; a binding made in between is still found and signs its person in."""
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    awaiting = AwaitedPassword({"next": "/app"}, rules.step_ttl)

    def second_look(browser: str) -> object:
        return sign_in_unless_proof_parked(
            db_factory, AUDIT, browser, identity(), remember=False, replaces_session=None, rules=rules,
            awaiting=awaiting, found_nobody=True,
        )

    assert second_look("browser-4") is None
    assert peek_pending_binding(db_factory, "browser-4") is not None
    first_signin(db_factory, rules, login)
    started = second_look("browser-5")
    assert isinstance(started, SessionStarted)
    active = current_signin(db_factory, started.signin_session_id, rules.timeouts)
    assert active is not None and active.staff.id == staff_id
    assert peek_pending_binding(db_factory, "browser-5") is None


def test_the_session_a_returning_sign_in_opens_is_decided_on_as_a_fresh_read_of_it_would_be(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    """The callback answers the app on the session as its transaction wrote it (grantees.opened_signin),
    not read back: the same person, session, role and current roles as a read of the row gives."""
    rules = SignInRules.of(settings)
    staff_id, login = person(db_factory)
    with db_factory() as db, db.begin():
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        staff.email = "ivanova@school.test"
        today = utcnow().date()
        give_role(db, staff, make_organization(db), Role.SCHOOL_DEPUTY, start=today - timedelta(days=90),
                  end=today - timedelta(days=1))
        give_role(db, staff, make_organization(db), Role.SCHOOL_DEPUTY, start=today + timedelta(days=1))
        db.execute(update(RoleAssignment).where(RoleAssignment.staff_id == staff_id).values(position="Завуч"))
    first_signin(db_factory, rules, login)
    seen: list[AuthorizingSignIn | None] = []

    def follow_up(db: Session, started: SessionStarted) -> object:
        seen.append(started.authorizing)
        return "answered"

    started = sign_in_unless_proof_parked(
        db_factory, AUDIT, "browser-1", identity(), remember=False, replaces_session=None, rules=rules,
        follow_up=follow_up,
    )
    assert isinstance(started, SessionStarted) and started.followed_by == "answered"
    opened = seen[0]
    assert opened is not None
    with db_factory() as db:
        read = load_authorizing_signin(db, started.signin_session_id, timeouts=rules.timeouts, now=utcnow())
    assert read is not None
    assert opened.staff == read.staff and opened.role == read.role and opened.role is not None
    assert opened.grantee.active_roles == read.grantee.active_roles and len(read.grantee.active_roles) == 1
    assert opened.session == read.session and opened.created_at == read.created_at
    assert opened.grantee.auth_time == read.grantee.auth_time
