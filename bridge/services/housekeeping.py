"""Housekeeping: rows whose use is over are deleted in small batches, so no table grows without bound.

One rule per table says when a row is no longer needed. A pass deletes at most `batch_size` rows
per table, each batch in a short transaction of its own (`DELETE … WHERE key IN (SELECT … LIMIT n)`),
so it never holds a lock long enough to stall sign-ins; the background task (bridge.housekeeping_task)
runs a pass every few minutes, `bridge purge` runs passes until nothing is left.

What is kept, and why:
- a used or expired **authorization code** for a day: a code replayed after use still revokes the
  tokens issued from it (bridge.services.oauth_tokens);
- a **refresh token** while any token of its family is alive: presenting a rotated token revokes
  the family, so rotated tokens of a living family are the evidence; then `retention`;
- a **grant** while its family has refresh tokens, and until `retention` after it was revoked or
  its sign-in session died;
- a **sign-in session** until `retention` after it ended or expired, and while a code, grant or
  refresh token still names it (they reference it by foreign key: they go first);
- **flow steps** until they expire; **activation links** and sent or failed **mail** for `retention`;
- **throttle counters** as long as the throttle remembers them: a login's backoff for
  `backoff_memory` (24 h) after its last failure, so a sprayer who pauses does not start afresh.

One rule is not a deletion: the **personal data of a deactivated person** (ФИО, СНИЛС, contacts,
bindings, the personal details beside audit records, their mail) is removed `deactivated_retention`
(`BRIDGE_DEACTIVATED_RETENTION_DAYS`, 180 days) after the deactivation; the staff row stays, with
its id, login and `sub`, as the pseudonym of the audit trail (bridge.services.staff_lifecycle).
Nor is the **personal data of old requests**: decided registration requests and closed requests to
add an organization lose their ФИО, e-mail, position and free text `request_retention`
(`BRIDGE_REQUEST_RETENTION_DAYS`, 90 days) after the decision (bridge.services.request_retention).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bridge.config import Settings, SettingsError
from bridge.services.outbox import OutboxStatus
from bridge.services.request_retention import blank_old_requests, count_old_requests
from bridge.services.staff_lifecycle import removal_due, remove_due_personal_data
from bridge.services.throttle import ThrottlePolicy
from bridge.storage.database import transaction
from bridge.storage.models import (
    ActivationLink,
    AuthFlow,
    AuthorizationCode,
    OAuthGrant,
    OutgoingMail,
    RefreshToken,
    SignInSession,
    StaffMember,
    ThrottleCounter,
)
from bridge.storage.types import utcnow

# The report's name for the people whose data was removed (not a table's rows deleted: the staff row stays).
PERSONAL_DATA = "staff_members.personal_data"
# A used code is remembered this long after it expired, so a late replay still revokes its tokens.
CODE_REPLAY_MEMORY = timedelta(days=1)
# Budgets of public forms (`throttle.take_from_budget`) must not use longer windows than this:
# their counters are purged once this has passed since their last use.
FORM_BUDGET_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class HousekeepingSettings:
    """`BRIDGE_PURGE_*`: how often the background purge runs, how much it takes at once, what it keeps."""

    # None: no background task (run `bridge purge` from cron instead).
    interval: timedelta | None = timedelta(minutes=10)
    batch_size: int = 500
    # How long finished records stay for operators to look at: ended sessions, revoked tokens and
    # grants, used or expired activation links, sent or failed mail.
    retention: timedelta = timedelta(days=30)
    # How long a deactivated person's data stays before it is removed.
    deactivated_retention: timedelta = timedelta(days=180)
    # How long a decided or closed request keeps the applicant's personal data.
    request_retention: timedelta = timedelta(days=90)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HousekeepingSettings:
        def number(name: str, default: int, minimum: int) -> int:
            value = environ.get(f"BRIDGE_{name}") or str(default)
            if not re.fullmatch(r"\d+", value) or int(value) < minimum:
                raise SettingsError(f"BRIDGE_{name} must be a whole number of at least {minimum}, not {value!r}")
            return int(value)

        minutes = number("PURGE_INTERVAL_MINUTES", 10, 0)
        return cls(
            interval=timedelta(minutes=minutes) if minutes else None,
            batch_size=number("PURGE_BATCH_SIZE", 500, 1),
            retention=timedelta(days=number("PURGE_RETENTION_DAYS", 30, 1)),
            deactivated_retention=timedelta(days=number("DEACTIVATED_RETENTION_DAYS", 180, 0)),
            request_retention=timedelta(days=number("REQUEST_RETENTION_DAYS", 90, 1)),
        )


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a finished row is kept, per kind of row."""

    retention: timedelta = timedelta(days=30)
    # Throttle counters: as long as any budget or backoff can still read them.
    throttle_memory: timedelta = timedelta(hours=24)
    code_memory: timedelta = CODE_REPLAY_MEMORY
    # A deactivated person's data, from the deactivation on.
    deactivated_retention: timedelta = timedelta(days=180)
    # A decided or closed request's personal data, from the decision on.
    request_retention: timedelta = timedelta(days=90)

    @classmethod
    def of(cls, housekeeping: HousekeepingSettings, settings: Settings) -> RetentionPolicy:
        throttle = ThrottlePolicy.of(settings)
        return cls(
            retention=housekeeping.retention,
            deactivated_retention=housekeeping.deactivated_retention,
            request_retention=housekeeping.request_retention,
            throttle_memory=max(throttle.window, throttle.backoff_memory, throttle.backoff_max_delay,
                                FORM_BUDGET_MEMORY),
        )


@dataclass(frozen=True)
class PurgeRule:
    table: str
    # The primary key: a batch is the rows whose key is among the first `n` that qualify.
    key: Any
    # Whether a row may go, at a given moment.
    done: Callable[[datetime], ColumnElement[bool]]


def purge_rules(policy: RetentionPolicy) -> tuple[PurgeRule, ...]:
    """The rules in the order a pass applies them: whatever names a sign-in session before sessions."""
    finished = policy.retention
    live_token = aliased(RefreshToken)

    def family_alive(now: datetime, family: Any) -> ColumnElement[bool]:
        return exists().where(
            live_token.family == family, live_token.rotated_at.is_(None), live_token.revoked_at.is_(None),
            live_token.expires_at > now,
        )

    def session_gone(now: datetime) -> ColumnElement[bool]:
        return or_(SignInSession.expires_at <= now - finished, SignInSession.ended_at <= now - finished)

    return (
        PurgeRule("authorization_codes", AuthorizationCode.id,
                  lambda now: AuthorizationCode.expires_at <= now - policy.code_memory),
        PurgeRule("refresh_tokens", RefreshToken.id, lambda now: and_(
            or_(RefreshToken.expires_at <= now - finished, RefreshToken.revoked_at <= now - finished),
            ~family_alive(now, RefreshToken.family),
        )),
        PurgeRule("oauth_grants", OAuthGrant.id, lambda now: and_(
            or_(
                OAuthGrant.revoked_at <= now - finished,
                exists().where(SignInSession.id == OAuthGrant.signin_session_id, session_gone(now)),
            ),
            ~exists().where(RefreshToken.family == OAuthGrant.id),
        )),
        PurgeRule("signin_sessions", SignInSession.id, lambda now: and_(
            session_gone(now),
            ~exists().where(AuthorizationCode.signin_session_id == SignInSession.id),
            ~exists().where(OAuthGrant.signin_session_id == SignInSession.id),
            ~exists().where(RefreshToken.signin_session_id == SignInSession.id),
        )),
        PurgeRule("auth_flows", AuthFlow.id, lambda now: AuthFlow.expires_at <= now),
        PurgeRule("activation_links", ActivationLink.id, lambda now: or_(
            ActivationLink.expires_at <= now - finished,
            ActivationLink.used_at <= now - finished,
            ActivationLink.revoked_at <= now - finished,
        )),
        PurgeRule("throttle_counters", ThrottleCounter.key,
                  lambda now: ThrottleCounter.last_attempt_at <= now - policy.throttle_memory),
        # A failed message's last claim pushed next_attempt_at past its last attempt.
        PurgeRule("outgoing_mail", OutgoingMail.id, lambda now: or_(
            and_(OutgoingMail.status == OutboxStatus.SENT.value, OutgoingMail.sent_at <= now - finished),
            and_(OutgoingMail.status == OutboxStatus.FAILED.value, OutgoingMail.next_attempt_at <= now - finished),
        )),
    )


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted (or, in a dry run, deletable now) per table."""

    counts: dict[str, int] = field(default_factory=dict)
    # Some table gave a full batch: there is probably more to delete right away.
    full: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __add__(self, other: PurgeReport) -> PurgeReport:
        counts = dict(self.counts)
        for table, count in other.counts.items():
            counts[table] = counts.get(table, 0) + count
        return PurgeReport(counts, other.full)


def purge_batch(db: Session, rule: PurgeRule, now: datetime, limit: int) -> int:
    table = rule.key.class_
    batch = select(rule.key).where(rule.done(now)).limit(limit)
    result = db.execute(delete(table).where(rule.key.in_(batch)).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_pass(
    factory: sessionmaker[Session], policy: RetentionPolicy, *, batch_size: int, now: datetime | None = None
) -> PurgeReport:
    """One batch per table, each in its own transaction."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    for rule in purge_rules(policy):
        with transaction(factory) as db:
            counts[rule.table] = purge_batch(db, rule, now, batch_size)
    # Fewer at once: each person is a handful of statements over several tables.
    with transaction(factory) as db:
        counts[PERSONAL_DATA] = remove_due_personal_data(
            db, policy.deactivated_retention, now, limit=_personal_batch(batch_size)
        )
    with transaction(factory) as db:
        counts |= blank_old_requests(db, policy.request_retention, now, limit=batch_size)
    full = any(count >= batch_size for table, count in counts.items() if table != PERSONAL_DATA)
    return PurgeReport(counts, full=full or counts[PERSONAL_DATA] >= _personal_batch(batch_size))


def _personal_batch(batch_size: int) -> int:
    return max(1, batch_size // 10)


def purge_until_done(
    factory: sessionmaker[Session], policy: RetentionPolicy, *, batch_size: int, now: datetime | None = None
) -> PurgeReport:
    """Passes until no table gives a full batch (what `bridge purge` runs)."""
    now = now or utcnow()
    report = purge_pass(factory, policy, batch_size=batch_size, now=now)
    while report.full:
        report += purge_pass(factory, policy, batch_size=batch_size, now=now)
    return report


def count_purgeable(
    factory: sessionmaker[Session], policy: RetentionPolicy, now: datetime | None = None
) -> PurgeReport:
    """What a purge would delete now, deleting nothing. Sessions and grants still named by rows that
    a purge would delete first are counted only once those rows are gone."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    with transaction(factory) as db:
        for rule in purge_rules(policy):
            eligible = select(func.count()).select_from(rule.key.class_).where(rule.done(now))
            counts[rule.table] = int(db.scalar(eligible) or 0)
        due = select(func.count()).select_from(StaffMember).where(removal_due(policy.deactivated_retention, now))
        counts[PERSONAL_DATA] = int(db.scalar(due) or 0)
        counts |= count_old_requests(db, policy.request_retention, now)
    return PurgeReport(counts)
