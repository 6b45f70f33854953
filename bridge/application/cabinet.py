"""«Личный кабинет»: the signed-in person looks at their own account and acts on it.

Who I am, my roles and bindings, my sessions; ending a session (or all but this one), removing one
of two bindings, asking support to deactivate the account. The person acts only on themselves:
the actor is built from the sign-in session (`principals.signed_in_person`), and every lookup is
by that person's id. Linking a second provider is a round trip: bridge/application/provider_linking.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.staff_notices import notify_binding_removed
from bridge.application.unit_of_work import unit_of_work
from bridge.services import session_devices, support_queue
from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import Conflict, NotFound, PermissionDenied
from bridge.services.person_names import full_name
from bridge.services.session_devices import DeviceSession
from bridge.services.signin_sessions import SessionTimeouts, active_roles
from bridge.services.staff_cards import StaffCard, staff_card
from bridge.storage.enums import StaffStatus
from bridge.storage.models import ExternalBinding, SignInSession, StaffMember
from bridge.storage.types import utcnow

LAST_BINDING = (
    "Это единственный способ входа: без него войти будет нельзя. Сначала привяжите другой способ входа."
)


@dataclass(frozen=True)
class Cabinet:
    card: StaffCard
    sessions: tuple[DeviceSession, ...]
    # Live sessions beyond those listed (the page lists the most recently seen ones).
    more_sessions: int
    # The role relying apps get from this session (chosen at sign-in, or the only active one).
    session_role_id: int | None
    active_role_ids: frozenset[int]
    deactivation_requested_at: datetime | None


@dataclass(frozen=True)
class OwnSessionsEnded:
    sessions_ended: int
    # True when the session this browser is signed in with was among them.
    current_ended: bool


@dataclass(frozen=True)
class OwnBindingRemoved:
    provider: str
    sessions_ended: int


@dataclass(frozen=True)
class DeactivationRequested:
    request_id: int
    # False when a request of the person was already waiting: nothing new was filed.
    filed: bool


def _own(db: Session, person: Actor) -> StaffMember:
    if person.staff_id is None:
        raise PermissionDenied("not_signed_in", "Войдите, чтобы открыть личный кабинет.")
    staff = db.get(StaffMember, person.staff_id)
    if staff is None or staff.status != StaffStatus.ACTIVE:
        raise PermissionDenied("actor_blocked", "Учётная запись заблокирована или отключена.")
    return staff


def _lock_person(db: Session, person: Actor) -> None:
    """Write the person's row before reading anything: on PostgreSQL that takes the row's lock, on
    SQLite the database's write lock, so two changes of the person's bindings run one after the other."""
    db.execute(
        update(StaffMember).where(StaffMember.id == person.staff_id)
        .values(session_generation=StaffMember.session_generation)
        .execution_options(synchronize_session=False)
    )


def show_cabinet(
    database: sessionmaker[Session], person: Actor, current_sid: str, timeouts: SessionTimeouts
) -> Cabinet:
    with unit_of_work(database, person.audit_context, "cabinet.show") as db:
        staff = _own(db, person)
        current = db.scalar(select(SignInSession).where(SignInSession.sid == current_sid))
        waiting = support_queue.open_deactivation_request(db, staff.id)
        listed = tuple(session_devices.live_sessions(db, staff, timeouts, current_sid))
        return Cabinet(
            card=staff_card(db, staff),
            sessions=listed,
            more_sessions=max(0, session_devices.count_live_sessions(db, staff, timeouts) - len(listed))
            if len(listed) >= session_devices.SHOWN_SESSIONS else 0,
            session_role_id=current.role_assignment_id if current is not None else None,
            active_role_ids=frozenset(role.id for role in active_roles(db, staff.id)),
            deactivation_requested_at=waiting.created_at if waiting is not None else None,
        )


def end_own_sessions(
    database: sessionmaker[Session], person: Actor, current_sid: str, *, sid: str | None = None
) -> OwnSessionsEnded:
    """«Завершить» one session by its `sid` (`sid` given), or «Завершить все, кроме этого» (`sid` None).

    The one way a person ends their own sessions: each ended session's grants and refresh tokens are
    revoked with it. Someone else's `sid` is not found, and changes nothing.
    """
    with unit_of_work(database, person.audit_context, "signin.end_own_sessions", sid=sid) as db:
        staff = _own(db, person)
        now = utcnow()
        targets = [sid] if sid is not None else session_devices.other_live_sids(db, staff.id, current_sid, now)
        ended = [target for target in targets if session_devices.end_own_session(db, staff.id, target, now)]
        if sid is not None and not ended:
            raise NotFound("unknown_session", "Такого сеанса нет или он уже завершён.")
        record(
            db, person.audit_context, "signin.own_sessions_ended", "success", subject_staff_id=staff.id,
            sids=ended, all_but_current=sid is None,
        )
        return OwnSessionsEnded(sessions_ended=len(ended), current_ended=current_sid in ended)


def unlink_own_provider(database: sessionmaker[Session], person: Actor, provider: str) -> OwnBindingRemoved:
    """«Отвязать» one of the person's bindings while another remains; never the last one.

    The person's row is locked first (`_lock_person`), so two removals racing each other count the
    bindings one after the other: the second finds one left and is refused. Sessions opened through the removed
    provider end, with the apps' grants under them; the person is mailed.
    """
    with unit_of_work(database, person.audit_context, "binding.remove_own", provider=provider) as db:
        _lock_person(db, person)
        staff = _own(db, person)
        bindings = list(db.scalars(select(ExternalBinding).where(ExternalBinding.staff_id == staff.id)))
        binding = next((bound for bound in bindings if bound.provider == provider), None)
        if binding is None:
            raise NotFound("unknown_binding", "Такой привязки нет.", provider=provider)
        if len(bindings) < 2:
            raise Conflict("last_binding", LAST_BINDING, provider=provider)
        now = utcnow()
        db.delete(binding)
        db.flush()
        db.expire(staff, ["bindings"])
        through = list(db.scalars(select(SignInSession.sid).where(
            SignInSession.staff_id == staff.id, SignInSession.provider == provider, SignInSession.ended_at.is_(None)
        )))
        ended = [sid for sid in through if session_devices.end_own_session(db, staff.id, sid, now)]
        notify_binding_removed(db, staff, provider, now)
        record(
            db, person.audit_context, "binding.removed", "success", subject_staff_id=staff.id, login=staff.login,
            provider=provider, by_self=True, sessions_ended=len(ended),
        )
        return OwnBindingRemoved(provider=provider, sessions_ended=len(ended))


def request_deactivation(database: sessionmaker[Session], person: Actor, reason: str) -> DeactivationRequested:
    """«Отключить мой кабинет»: a request in support's queue; the account stays as it is until then."""
    with unit_of_work(database, person.audit_context, "support.request_deactivation") as db:
        staff = _own(db, person)
        organizations = sorted({role.organization.name for role in active_roles(db, staff.id)})
        item, filed = support_queue.file_deactivation_request(
            db, staff.id, full_name(staff.surname, staff.name, staff.patronymic),
            "; ".join(organizations) or None, staff.email, reason,
        )
        if filed:
            record(
                db, person.audit_context, "support.request_filed", "success", subject_staff_id=staff.id,
                support_request_id=item.id, kind=item.kind,
            )
        return DeactivationRequested(request_id=item.id, filed=filed)
