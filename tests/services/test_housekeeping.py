"""Housekeeping on both databases: what must go goes, what is still needed stays, batches stay bounded."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings, SettingsError
from bridge.housekeeping_task import HousekeepingTask
from bridge.services import registration_requests
from bridge.services.housekeeping import (
    FORM_BUDGET_MEMORY,
    HousekeepingSettings,
    RetentionPolicy,
    count_purgeable,
    purge_pass,
    purge_until_done,
)
from bridge.services.throttle import ThrottlePolicy, login_throttle, reserve_attempt
from bridge.storage.database import transaction
from bridge.storage.models import (
    ActivationLink,
    AuthFlow,
    AuthorizationCode,
    Base,
    LogoutDelivery,
    OAuthGrant,
    OutgoingMail,
    RefreshToken,
    SignInSession,
    ThrottleCounter,
)
from bridge.storage.types import utcnow
from tests.support.factories import make_staff

DAY = timedelta(days=1)
POLICY = RetentionPolicy(retention=30 * DAY, throttle_memory=timedelta(hours=24))


class World:
    """Rows at chosen ages relative to `now`, made directly: the rules are about ages, not about how rows came."""

    def __init__(self, db: Session, now: datetime) -> None:
        self.db = db
        self.now = now
        self.staff_id = make_staff(db).id

    def session(self, name: str, *, expires: timedelta, ended: timedelta | None = None) -> str:
        self.db.add(SignInSession(
            id=name, sid=secrets.token_urlsafe(18), staff_id=self.staff_id, session_generation=0, provider="esia",
            amr=[], auth_time=self.now - 60 * DAY, created_at=self.now - 60 * DAY, expires_at=self.now + expires,
            last_seen_at=self.now - 60 * DAY, ended_at=self.now + ended if ended is not None else None,
        ))
        self.db.flush()
        return name

    def code(self, session: str, *, expires: timedelta, used: bool = True) -> str:
        code_hash = secrets.token_hex(32)
        self.db.add(AuthorizationCode(
            code_hash=code_hash, client_id="app", staff_id=self.staff_id, signin_session_id=session,
            redirect_uri="https://app.test/cb", scope="openid", code_challenge="x" * 43, code_challenge_method="S256",
            auth_time=self.now, created_at=self.now + expires - timedelta(seconds=60), expires_at=self.now + expires,
            used_at=self.now + expires - timedelta(seconds=30) if used else None,
        ))
        return code_hash

    def grant(self, family: str, session: str, *, revoked: timedelta | None = None) -> str:
        self.db.add(OAuthGrant(id=family, client_id="app", staff_id=self.staff_id, signin_session_id=session,
                               created_at=self.now - 60 * DAY, revoked_at=self.now + revoked if revoked else None))
        self.db.flush()
        return family

    def token(self, family: str, session: str, *, expires: timedelta, rotated: timedelta | None = None,
              revoked: timedelta | None = None) -> str:
        token_hash = secrets.token_hex(32)
        self.db.add(RefreshToken(
            token_hash=token_hash, family=family, client_id="app", staff_id=self.staff_id,
            signin_session_id=session, scope="openid", auth_time=self.now, created_at=self.now + expires - 7 * DAY,
            expires_at=self.now + expires, rotated_at=self.now + rotated if rotated else None,
            revoked_at=self.now + revoked if revoked else None,
        ))
        return token_hash

    def flow(self, *, expires: timedelta) -> str:
        browser = secrets.token_hex(32)
        self.db.add(AuthFlow(browser=browser, kind="upstream", key=secrets.token_hex(32), data={},
                             created_at=self.now + expires - timedelta(minutes=10), expires_at=self.now + expires))
        return browser

    def link(self, *, expires: timedelta, used: timedelta | None = None, revoked: timedelta | None = None) -> str:
        token_hash = secrets.token_hex(32)
        self.db.add(ActivationLink(
            token_hash=token_hash, staff_id=self.staff_id, email="a@school.test",
            created_at=self.now + expires - timedelta(hours=72), expires_at=self.now + expires,
            used_at=self.now + used if used else None, revoked_at=self.now + revoked if revoked else None,
        ))
        return token_hash

    def mail(self, subject: str, status: str, *, sent: timedelta | None = None, next_attempt: timedelta) -> str:
        self.db.add(OutgoingMail(
            kind="activation", recipient="a@school.test", subject=subject, status=status,
            next_attempt_at=self.now + next_attempt, sent_at=self.now + sent if sent else None,
            created_at=self.now - 60 * DAY,
        ))
        return subject

    def logout_delivery(self, client_id: str, status: str, *, delivered: timedelta | None = None,
                        next_attempt: timedelta) -> str:
        self.db.add(LogoutDelivery(
            client_id=client_id, staff_id=1, subject="s", status=status, attempts=1,
            next_attempt_at=self.now + next_attempt, delivered_at=self.now + delivered if delivered else None,
            created_at=self.now - 60 * DAY,
        ))
        return client_id


def survivors(db_factory: sessionmaker[Session]) -> dict[str, set[str]]:
    with db_factory() as db:
        return {
            "sessions": set(db.scalars(select(SignInSession.id))),
            "codes": set(db.scalars(select(AuthorizationCode.code_hash))),
            "grants": set(db.scalars(select(OAuthGrant.id))),
            "tokens": set(db.scalars(select(RefreshToken.token_hash))),
            "flows": set(db.scalars(select(AuthFlow.browser))),
            "links": set(db.scalars(select(ActivationLink.token_hash))),
            "mail": set(db.scalars(select(OutgoingMail.subject))),
            "throttle": set(db.scalars(select(ThrottleCounter.key))),
            "logout": set(db.scalars(select(LogoutDelivery.client_id))),
        }


def test_what_must_go_goes_and_what_is_still_needed_stays(db_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(db_factory) as db:
        world = World(db, now)
        # A live session: its grant and tokens stay, even a long-expired rotated token of the living
        # family (presenting it must still revoke the family); a code a day past its expiry goes.
        live = world.session("live", expires=timedelta(hours=1))
        world.grant("family-live", live)
        live_token = world.token("family-live", live, expires=7 * DAY)
        rotated_token = world.token("family-live", live, expires=-35 * DAY, rotated=-40 * DAY)
        old_code = world.code(live, expires=-2 * DAY)
        recent_code = world.code(live, expires=-timedelta(hours=1))
        # Signed out long ago: its code, revoked grant and tokens go, and then the session itself.
        gone = world.session("signed-out", expires=-39 * DAY, ended=-40 * DAY)
        world.grant("family-gone", gone, revoked=-40 * DAY)
        gone_tokens = {world.token("family-gone", gone, expires=-33 * DAY, revoked=-40 * DAY) for _ in range(2)}
        gone_code = world.code(gone, expires=-40 * DAY)
        # Expired long ago, but a refresh token of its family still lives: all of it stays.
        named = world.session("still-named", expires=-31 * DAY)
        world.grant("family-lingering", named)
        lingering_token = world.token("family-lingering", named, expires=DAY)
        # Signed out recently: kept for the retention period.
        world.session("recent", expires=DAY, ended=-DAY)
        # Signed out long ago with a grant never revoked and no tokens: both go.
        quiet = world.session("quiet", expires=-35 * DAY, ended=-40 * DAY)
        world.grant("family-quiet", quiet)

        expired_flow, live_flow = world.flow(expires=-timedelta(seconds=1)), world.flow(expires=timedelta(minutes=5))
        old_links = {world.link(expires=-31 * DAY), world.link(expires=-37 * DAY, used=-40 * DAY),
                     world.link(expires=DAY, revoked=-31 * DAY)}
        kept_links = {world.link(expires=3 * DAY), world.link(expires=-2 * DAY)}
        world.mail("sent-long-ago", "sent", sent=-31 * DAY, next_attempt=-31 * DAY)
        world.mail("sent-yesterday", "sent", sent=-DAY, next_attempt=-DAY)
        world.mail("failed-long-ago", "failed", next_attempt=-31 * DAY)
        world.mail("stuck-in-queue", "queued", next_attempt=-40 * DAY)
        world.logout_delivery("delivered-long-ago", "delivered", delivered=-31 * DAY, next_attempt=-31 * DAY)
        world.logout_delivery("delivered-yesterday", "delivered", delivered=-DAY, next_attempt=-DAY)
        world.logout_delivery("given-up-long-ago", "failed", next_attempt=-31 * DAY)
        world.logout_delivery("still-retried", "queued", next_attempt=-40 * DAY)

        # Password attempts: "sprayed" failed 21 times 23 hours ago (its backoff is still remembered);
        # "quiet" failed once 25 hours ago (forgotten: its counters go).
        throttle = ThrottlePolicy()
        for number in range(21):
            reserve_attempt(db, "sprayed", f"198.51.100.{number}", throttle, now=now - timedelta(hours=23))
        reserve_attempt(db, "quiet", "203.0.113.7", throttle, now=now - timedelta(hours=25))

    before = survivors(db_factory)
    report = purge_until_done(db_factory, POLICY, batch_size=500, now=now)
    after = survivors(db_factory)

    assert after["sessions"] == {"live", "still-named", "recent"}
    assert after["grants"] == {"family-live", "family-lingering"}
    assert after["tokens"] == {live_token, rotated_token, lingering_token}
    assert after["codes"] == {recent_code}
    assert after["flows"] == {live_flow}
    assert after["links"] == kept_links
    assert after["mail"] == {"sent-yesterday", "stuck-in-queue"}
    assert after["logout"] == {"delivered-yesterday", "still-retried"}
    assert after["throttle"] == {key for key in before["throttle"] if "quiet" not in key and "203.0.113.7" not in key}
    assert {old_code, gone_code} | gone_tokens | {expired_flow} | old_links <= set().union(*before.values())
    with db_factory() as db:
        remembered = login_throttle(db, "sprayed", throttle, now=now)
    assert remembered is not None and remembered.backoff_delay > timedelta(0)
    assert report.counts == {
        "authorization_codes": 2, "refresh_tokens": 2, "oauth_grants": 2, "signin_sessions": 2, "auth_flows": 1,
        "activation_links": 3, "throttle_counters": 3, "outgoing_mail": 2, "logout_deliveries": 2,
        "staff_members.personal_data": 0,
        "registration_requests.personal_data": 0, "organization_requests.personal_data": 0,
        "support_requests.personal_data": 0,
    }
    assert not report.full
    # Nothing is left for the next run.
    assert count_purgeable(db_factory, POLICY, now=now).total == 0


def test_each_pass_takes_at_most_one_batch_per_table(db_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(db_factory) as db:
        world = World(db, now)
        session = world.session("live", expires=DAY)
        for _ in range(7):
            world.flow(expires=-DAY)
            world.code(session, expires=-2 * DAY)
            world.link(expires=-40 * DAY)
    assert count_purgeable(db_factory, POLICY, now=now).counts["auth_flows"] == 7
    passes = []
    for _ in range(3):
        report = purge_pass(db_factory, POLICY, batch_size=3, now=now)
        passes.append((report.counts["auth_flows"], report.counts["authorization_codes"],
                       report.counts["activation_links"], report.full))
    assert passes == [(3, 3, 3, True), (3, 3, 3, True), (1, 1, 1, False)]
    with db_factory() as db:
        for model in (AuthFlow, AuthorizationCode, ActivationLink):
            assert db.scalar(select(func.count()).select_from(model)) == 0


def test_a_dry_run_counts_and_deletes_nothing(db_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(db_factory) as db:
        world = World(db, now)
        for _ in range(4):
            world.flow(expires=-DAY)
    before = survivors(db_factory)
    assert count_purgeable(db_factory, POLICY, now=now).counts["auth_flows"] == 4
    assert survivors(db_factory) == before


def test_every_table_that_names_a_signin_session_is_purged_before_sessions() -> None:
    """A table added later with a foreign key to sessions needs its own rule, or sessions stop going."""
    sessions = Base.metadata.tables["signin_sessions"]
    naming = {table.name for table in Base.metadata.sorted_tables
              if any(key.column.table is sessions for key in table.foreign_keys)}
    assert naming == {"authorization_codes", "oauth_grants", "refresh_tokens"}


def test_throttle_counters_are_kept_as_long_as_any_budget_or_backoff_reads_them() -> None:
    assert registration_requests.BUDGET_WINDOW <= FORM_BUDGET_MEMORY
    # A longer backoff memory than the default keeps its counters longer too.
    remembering = Settings(login_backoff_memory=timedelta(hours=48))
    assert RetentionPolicy.of(HousekeepingSettings(), remembering).throttle_memory == timedelta(hours=48)


def test_the_background_task_purges_while_the_app_runs(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db:
        world = World(db, utcnow())
        for _ in range(5):
            world.flow(expires=-DAY)
    task = HousekeepingTask(
        db_factory, HousekeepingSettings(interval=timedelta(seconds=0.05), batch_size=2), POLICY,
        first_delay_seconds=0,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task.start()
        try:
            yield
        finally:
            await task.stop()

    with TestClient(Starlette(lifespan=lifespan)):
        deadline = time.monotonic() + 10
        while survivors(db_factory)["flows"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert survivors(db_factory)["flows"] == set()


def test_settings() -> None:
    assert HousekeepingSettings.from_environ({}) == HousekeepingSettings()
    configured = HousekeepingSettings.from_environ(
        {"BRIDGE_PURGE_INTERVAL_MINUTES": "0", "BRIDGE_PURGE_BATCH_SIZE": "100", "BRIDGE_PURGE_RETENTION_DAYS": "7"}
    )
    assert configured == HousekeepingSettings(interval=None, batch_size=100, retention=timedelta(days=7))
    assert HousekeepingSettings.from_environ({"BRIDGE_REQUEST_RETENTION_DAYS": "30"}).request_retention == timedelta(
        days=30
    )
    for name, value in (("PURGE_BATCH_SIZE", "0"), ("PURGE_RETENTION_DAYS", "-1"), ("PURGE_INTERVAL_MINUTES", "x"),
                        ("REQUEST_RETENTION_DAYS", "0")):
        with pytest.raises(SettingsError, match=f"BRIDGE_{name}"):
            HousekeepingSettings.from_environ({f"BRIDGE_{name}": value})
