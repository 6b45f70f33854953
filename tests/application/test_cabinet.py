"""The cabinet's use cases on both databases: removals racing each other, sessions that are not
one's own, a deactivation request filed once, and the User-Agent read simply."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.cabinet import end_own_sessions, request_deactivation, unlink_own_provider
from bridge.application.principals import signed_in_person
from bridge.services.errors import Conflict, NotFound
from bridge.services.session_devices import browser_title
from bridge.services.signin_sessions import start_signin_session
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, ExternalBinding, SignInSession, StaffMember, SupportRequest
from tests.support.browser import TEST_SESSION_KEYS
from tests.support.factories import make_staff


def _person_with(db_factory: sessionmaker[Session], providers: tuple[str, ...]) -> tuple[int, str]:
    with transaction(db_factory) as db:
        staff = make_staff(db)
        for provider in providers:
            db.add(ExternalBinding(staff_id=staff.id, provider=provider, issuer=f"https://{provider}.test",
                                   subject=f"{provider}-{staff.id}", flow="local_first"))
        return staff.id, staff.login


def _session(db_factory: sessionmaker[Session], staff_id: int) -> str:
    with transaction(db_factory) as db:
        staff = db.get(StaffMember, staff_id)
        assert staff is not None
        return start_signin_session(
            db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["fed"], acr=None,
            lifetime=timedelta(hours=1), remember=False,
        ).record.sid


def test_two_removals_racing_leave_one_binding(db_factory: sessionmaker[Session]) -> None:
    staff_id, login = _person_with(db_factory, ("esia", "rsaa"))
    person = signed_in_person(staff_id, login, address=None)
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def remove(provider: str) -> None:
        barrier.wait()
        try:
            outcomes[provider] = unlink_own_provider(db_factory, person, provider)
        except Conflict as refusal:
            outcomes[provider] = refusal.code

    threads = [threading.Thread(target=remove, args=(provider,)) for provider in ("esia", "rsaa")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(str(outcome) if isinstance(outcome, str) else "removed" for outcome in outcomes.values()) == [
        "last_binding", "removed",
    ]
    with db_factory() as db:
        assert len(db.scalars(select(ExternalBinding).where(ExternalBinding.staff_id == staff_id)).all()) == 1


def test_the_last_binding_stays(db_factory: sessionmaker[Session]) -> None:
    staff_id, login = _person_with(db_factory, ("esia",))
    with pytest.raises(Conflict) as refused:
        unlink_own_provider(db_factory, signed_in_person(staff_id, login, address=None), "esia")
    assert refused.value.code == "last_binding"


def test_another_persons_session_is_not_found_and_stays(db_factory: sessionmaker[Session]) -> None:
    owner_id, _ = _person_with(db_factory, ("esia",))
    intruder_id, intruder = _person_with(db_factory, ("esia",))
    victim_sid, own_sid = _session(db_factory, owner_id), _session(db_factory, intruder_id)
    with pytest.raises(NotFound):
        end_own_sessions(db_factory, signed_in_person(intruder_id, intruder, address=None), own_sid, sid=victim_sid)
    with db_factory() as db:
        assert db.scalars(select(SignInSession.ended_at).where(SignInSession.sid == victim_sid)).one() is None
        refusal = db.scalars(select(AuditEvent).where(AuditEvent.event == "issuance.refused")).one()
        assert refusal.details["reason"] == "unknown_session"


def test_a_deactivation_request_is_filed_once(db_factory: sessionmaker[Session]) -> None:
    staff_id, login = _person_with(db_factory, ("esia",))
    person = signed_in_person(staff_id, login, address=None)
    first = request_deactivation(db_factory, person, "Увольняюсь")
    second = request_deactivation(db_factory, person, "Ещё раз")
    assert (first.filed, second.filed, first.request_id == second.request_id) == (True, False, True)
    with db_factory() as db:
        assert db.scalars(select(SupportRequest.message)).all() == ["Увольняюсь"]


@pytest.mark.parametrize(("user_agent", "title"), [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 "
     "Edg/120.0.2210.61", "Microsoft Edge 120, Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Mobile/15E148 Safari/604.1", "Safari 17, iPhone"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 YaBrowser/24.1.0 "
     "Safari/537.36", "Яндекс Браузер 24, Linux"),
    ("curl/8.4.0", "Браузер"),
    (None, "Неизвестный браузер"),
])
def test_the_user_agent_is_read_simply(user_agent: str | None, title: str) -> None:
    assert browser_title(user_agent) == title
