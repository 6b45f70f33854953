"""Sign-in sessions die after an idle period and at an absolute end, enforced at the server."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Settings, SettingsError
from bridge.runtime import build_runtime
from bridge.services.signin_sessions import (
    ACTIVITY_GRANULARITY,
    SessionTimeouts,
    end_signin_session,
    load_active_signin,
    record_activity,
    start_signin_session,
)
from bridge.storage.models import SignInSession, StaffMember
from bridge.storage.types import utcnow
from tests.op.conftest import App, Person, authorization_request, refresh, signed_in_tokens
from tests.support.browser import TEST_SESSION_KEYS

TIMEOUTS = SessionTimeouts(idle=timedelta(minutes=60), remembered_idle=timedelta(days=7))


def _start(db: Session, staff_id: int, *, remember: bool = False, lifetime: timedelta = timedelta(hours=12)) -> Any:
    staff = db.get(StaffMember, staff_id)
    assert staff is not None
    return start_signin_session(
        db, staff, keys=TEST_SESSION_KEYS, provider="esia", amr=["pwd"], acr=None, lifetime=lifetime,
        remember=remember, now=T0,
    ).record


T0 = utcnow()


def test_idle_sessions_die_and_activity_keeps_them_alive(
    db_factory: sessionmaker[Session], director: Person
) -> None:
    with db_factory() as db, db.begin():
        session_id = _start(db, director.staff_id).id

    def alive(after: timedelta) -> bool:
        with db_factory() as db:
            return load_active_signin(db, session_id, timeouts=TIMEOUTS, now=T0 + after) is not None

    assert alive(timedelta(minutes=59)) and not alive(timedelta(minutes=60))
    with db_factory() as db, db.begin():
        record = db.get(SignInSession, session_id)
        assert record is not None
        assert record_activity(db, record, T0 + timedelta(minutes=30))
        # Written at most once a minute: a second touch within the minute is no write at all.
        assert not record_activity(db, record, T0 + timedelta(minutes=30, seconds=59))
    assert alive(timedelta(minutes=89)) and not alive(timedelta(minutes=90))


def test_remembered_sessions_have_a_longer_idle_and_still_an_absolute_end(
    db_factory: sessionmaker[Session], director: Person
) -> None:
    with db_factory() as db, db.begin():
        session_id = _start(db, director.staff_id, remember=True, lifetime=timedelta(days=30)).id

    def alive(after: timedelta) -> bool:
        with db_factory() as db:
            return load_active_signin(db, session_id, timeouts=TIMEOUTS, now=T0 + after) is not None

    assert alive(timedelta(days=6)) and not alive(timedelta(days=7, seconds=1))
    for day in range(1, 31):
        with db_factory() as db, db.begin():
            record = db.get(SignInSession, session_id)
            assert record is not None
            record_activity(db, record, T0 + timedelta(days=day, hours=-1))
    # Used every day, yet the absolute lifetime ends it.
    assert alive(timedelta(days=29)) and not alive(timedelta(days=30))


def test_activity_never_revives_an_ended_session(db_factory: sessionmaker[Session], director: Person) -> None:
    with db_factory() as db, db.begin():
        record = _start(db, director.staff_id)
        end_signin_session(db, record.id, T0 + timedelta(minutes=1))
        assert not record_activity(db, record, T0 + timedelta(minutes=5))
        assert load_active_signin(db, record.id, timeouts=TIMEOUTS, now=T0 + timedelta(minutes=5)) is None


def test_idle_timeout_must_be_positive(settings: Settings) -> None:
    with pytest.raises(SettingsError):
        Settings(**{**settings.__dict__, "session_idle_timeout": timedelta(0)}).check_startable()
    read = Settings.from_environ({"BRIDGE_SESSION_IDLE_MINUTES": "15", "BRIDGE_REMEMBER_ME_IDLE_DAYS": "3"})
    assert (read.session_idle_timeout, read.remember_me_idle_timeout) == (timedelta(minutes=15), timedelta(days=3))
    defaults = Settings.from_environ({})
    assert (defaults.session_idle_timeout, defaults.remember_me_idle_timeout) == (
        timedelta(minutes=60), timedelta(days=7)
    )


def test_an_idle_session_ends_app_access_over_http(
    settings: Settings, engine: Engine, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    """End to end, with a 2-second idle timeout: the browser, userinfo and refresh all see it dead."""
    short = Settings(**{**settings.__dict__, "session_idle_timeout": timedelta(seconds=2)})
    app = create_app(short, runtime=build_runtime(short, engine=engine))
    with TestClient(app, base_url="https://bridge.test") as client:
        tokens = signed_in_tokens(client, short, db_factory, confidential_app, director)
        assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        time.sleep(2.2)
        # The access token itself has minutes left, but the session behind it is idle.
        refused = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
        assert refresh(client, confidential_app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
        # The browser's cookie still holds the session id, but the bridge sends it to sign in again.
        request = authorization_request(confidential_app)
        response = client.get(request.url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?")


def test_browser_activity_is_one_conditional_update_a_minute(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], engine: Engine,
    confidential_app: App, director: Person,
) -> None:
    signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with db_factory() as db, db.begin():
        # As if the person had come back after a coffee: last seen over a minute ago.
        for record in db.scalars(select(SignInSession)):
            record.last_seen_at = utcnow() - ACTIVITY_GRANULARITY - timedelta(seconds=5)
    updates: list[str] = []

    def record_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SIGNIN_SESSIONS"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", record_statement)
    try:
        for _ in range(5):
            client.get("/oidc/authorize?" + authorization_request(confidential_app).url.split("?", 1)[1],
                       follow_redirects=False)
    finally:
        event.remove(engine, "before_cursor_execute", record_statement)
    # Five requests, one write, and that one conditional (a racing request cannot write twice).
    assert len(updates) == 1 and "last_seen_at <" in updates[0]
    with db_factory() as db:
        seen = db.scalars(select(SignInSession.last_seen_at)).one()
    assert utcnow() - seen < timedelta(seconds=30)
