"""The data model: directory (organizations, staff, roles), federation, provider, audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bridge.storage.enums import (
    AnchorReason,
    DeactivationReason,
    OrganizationKind,
    RegistryStatus,
    Role,
    StaffStatus,
)
from bridge.storage.search_keys import search_name_of
from bridge.storage.types import UTCDateTime, stored_by_value, utcnow

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_uuid() -> str:
    return str(uuid.uuid4())


# --- Directory -------------------------------------------------------------------------------


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[OrganizationKind] = mapped_column(stored_by_value(OrganizationKind, length=40))
    district: Mapped[str | None] = mapped_column(String(200))
    inn: Mapped[str | None] = mapped_column(String(12), unique=True)
    ogrn: Mapped[str | None] = mapped_column(String(15), unique=True)
    # An education department is the parent of the schools of its district.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    registry_status: Mapped[RegistryStatus] = mapped_column(
        stored_by_value(RegistryStatus, length=20), default=RegistryStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Organization | None] = relationship(remote_side=[id])


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint(
            "NOT (no_patronymic AND patronymic IS NOT NULL)", name="patronymic_or_flag"
        ),
        # The staff list's order and its pages' edges: (search_name, id) > (…, …) is one range.
        Index("ix_staff_members_search_name", "search_name", "id"),
        # The list's search by the beginning of a login (LIKE 'ivanov%'): on PostgreSQL the unique
        # index serves a prefix only under the "C" collation, this one under any (on SQLite it is
        # a plain twin of the unique index, kept so both engines have one schema).
        Index("ix_staff_members_login_pattern", "login", postgresql_ops={"login": "varchar_pattern_ops"}),
        # The few with an issued password not yet used: the list's «ожидают первого входа».
        Index(
            "ix_staff_members_password_waiting", "id",
            sqlite_where=text("password_hash IS NOT NULL AND credential_used_at IS NULL"),
            postgresql_where=text("password_hash IS NOT NULL AND credential_used_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The stable OIDC `sub` given to relying apps; never the database id.
    subject: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    surname: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    patronymic: Mapped[str | None] = mapped_column(String(200))
    no_patronymic: Mapped[bool] = mapped_column(Boolean, default=False)
    snils: Mapped[str | None] = mapped_column(String(11), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # The work phone, E.164 (+79161234567), an extension as RFC 3966 ";ext=123".
    phone: Mapped[str | None] = mapped_column(String(40))
    # The address the person confirmed on the profile page; confirmed while it equals `email`
    # (an edit of the card by anyone makes it unconfirmed again without touching this column).
    confirmed_email: Mapped[str | None] = mapped_column(String(320))
    # When the person last confirmed or completed their workplace data (the profile page).
    profile_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    login: Mapped[str] = mapped_column(String(100), unique=True)
    # «фамилия имя отчество» in the compared form (services/person_names.comparable), kept by the
    # listener in bridge/storage/search_keys.py: the staff list searches and orders by it, and
    # finding a namesake is one index look-up. Byte order ("C") on PostgreSQL, so a prefix is a range.
    search_name: Mapped[str] = mapped_column(
        String(700).with_variant(String(700, collation="C"), "postgresql"), default=""
    )
    # argon2id hash of the issued password; NULL once retired by a binding (or never issued).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    credential_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credential_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the issued password completed a binding: that password can never bind again.
    credential_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[StaffStatus] = mapped_column(
        stored_by_value(StaffStatus, length=20), default=StaffStatus.ACTIVE, index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    # "+7XXXXXXXXXX" (bridge.services.contacts).
    # The current block: when, why and by whom (an audit actor: a login or "cli:support").
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    blocked_by: Mapped[str | None] = mapped_column(String(200))
    # Set once the cabinet is switched off; the housekeeping removes the personal data
    # (ФИО, СНИЛС, contacts) a retention period later and sets personal_data_removed_at.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    deactivation_reason: Mapped[DeactivationReason | None] = mapped_column(
        stored_by_value(DeactivationReason, length=20)
    )
    personal_data_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped on every credential reset; sign-in sessions of an older generation are dead.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="staff", foreign_keys="RoleAssignment.staff_id", order_by="RoleAssignment.id"
    )
    bindings: Mapped[list[ExternalBinding]] = relationship(back_populates="staff")


@event.listens_for(StaffMember, "before_insert")
@event.listens_for(StaffMember, "before_update")
def _keep_search_name(mapper: Any, connection: Any, staff: StaffMember) -> None:
    # A bulk UPDATE of names bypasses this: the one that exists (removing a deactivated person's
    # data, services/staff_lifecycle.py) blanks search_name itself.
    staff.search_name = search_name_of(staff.surname, staff.name, staff.patronymic)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        UniqueConstraint("staff_id", "organization_id", "role", "start_date"),
        # The staff list's role filter.
        Index("ix_role_assignments_role", "role", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[Role] = mapped_column(stored_by_value(Role, length=40))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # The job title in that organization («учитель математики»): per role, since one person can work
    # in two organizations under different titles; relying apps get it as the `position` claim.
    position: Mapped[str | None] = mapped_column(String(200))
    # NULL when granted by technical support through the CLI.
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    staff: Mapped[StaffMember] = relationship(back_populates="roles", foreign_keys=[staff_id])
    organization: Mapped[Organization] = relationship()


# --- Federation ------------------------------------------------------------------------------


class ExternalBinding(Base):
    """A local staff member bound to a subject at an external identity provider."""

    __tablename__ = "external_bindings"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),
        UniqueConstraint("staff_id", "provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    # The configured provider key ("esia", "rsaa", ...).
    provider: Mapped[str] = mapped_column(String(50))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    # "external_first" or "local_first".
    flow: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    staff: Mapped[StaffMember] = relationship(back_populates="bindings")


class SignInSession(Base):
    """The bridge's own sign-in session in one browser (the SSO session)."""

    __tablename__ = "signin_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The session's public id (the `sid` claim): random, unrelated to the id, which is a bearer
    # secret. Unique and indexed, so a token's session is found by key.
    sid: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    session_generation: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(50))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str | None] = mapped_column(String(100))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    # The role chosen for this session; NULL until the person has chosen (or none is active).
    role_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("role_assignments.id"))
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The absolute end of the session; the idle timeout counts from last_seen_at.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Last activity (the browser at the bridge, an app's token request), written at most once a minute.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the person sees on «Мои сеансы»: the browser's User-Agent (cut short) and the address the
    # session was opened from. Written once, at the start; NULL for sessions older than migration 0016.
    user_agent: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(100))

    # For loading a session with its person and role in one query (signin_sessions.load_active_signin);
    # written through the ids above only.
    staff: Mapped[StaffMember] = relationship(viewonly=True)
    role: Mapped[RoleAssignment | None] = relationship(viewonly=True)


class AuthFlow(Base):
    """One step of a sign-in ceremony parked on the server (Keycloak's authentication session).

    The browser holds only an opaque id (`browser` is its SHA-256); `key` names the step within
    that browser (the SHA-256 of the upstream `state`, or of a tab id; empty for steps a browser
    has one of). A step is consumed by one DELETE … RETURNING, so a copied cookie, a second tab
    or a second node finds nothing the second time.
    """

    __tablename__ = "auth_flows"
    __table_args__ = (UniqueConstraint("browser", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    browser: Mapped[str] = mapped_column(String(64))
    # A FlowKind value (bridge.services.flow_state).
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(64), default="")
    # Set when the step rests on a staff member's credential: a reset or block discards it.
    staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ThrottleCounter(Base):
    """Password attempts reserved against one budget: a login, an address, or a login from an address.

    The kinds and their rules are in `bridge/services/throttle.py`; a counter is reserved before
    the password hash runs, so its `attempts` are failures plus attempts still in flight.
    """

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # The (normalized) login the counter is about, NULL for an address: lifting a lock clears them all.
    login: Mapped[str | None] = mapped_column(String(300), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Registration requests and activation links ---------------------------------------------


class RegistrationRequest(Base):
    """«Заявка на подключение»: a person asks for an account in an organization of the registry.

    It reaches the administrators who may issue the asked-for position there; an approval creates
    the staff member (with no password) and mails an activation link, a rejection mails the reason.
    """

    __tablename__ = "registration_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    patronymic: Mapped[str | None] = mapped_column(String(200))
    no_patronymic: Mapped[bool] = mapped_column(Boolean, default=False)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    position: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # A RequestedPosition value: "head" (руководитель) or "employee" (сотрудник).
    requested: Mapped[str] = mapped_column(String(20))
    # A RequestStatus value: pending → approved or rejected.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # The staff member the approval created (or found and gave the role to).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), index=True)

    organization: Mapped[Organization] = relationship()


class ActivationLink(Base):
    """A single-use link mailed instead of a password: it proves a mailbox, and only once.

    Only the SHA-256 of its 256-bit token is stored. It is taken by one conditional UPDATE inside
    the binding transaction, so two tabs, a copied link or a replay bind nothing the second time.
    """

    __tablename__ = "activation_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("registration_requests.id"))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a newer link, a password reset or a block makes this one worthless.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrganizationRequest(Base):
    """«Заявка на включение организации в реестр»: left on the public form for technical support.

    A person whose organization is not in the registry cannot ask for an account there; this is
    how they ask for the organization itself (seed 003). Support adds it (`bridge org add`) and
    closes the request (`bridge org close-request`).
    """

    __tablename__ = "organization_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    inn: Mapped[str] = mapped_column(String(12), index=True)
    contact_email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by technical support when the request is dealt with, with what was done.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closing_note: Mapped[str | None] = mapped_column(Text)


class SupportRequest(Base):
    """«Обращение в техническую службу»: one queue for support (seed 003).

    Two kinds land here: «Не могу войти», left on a public form by someone who may or may not have
    an account (nothing on the form says which), and a signed-in person's request to deactivate
    their own account (`staff_id` set). Support resolves each with an existing use case and closes
    it with an outcome; the person is mailed the outcome. A closed item's personal data (ФИО,
    organization, e-mail, message, answer) is blanked `BRIDGE_REQUEST_RETENTION_DAYS` later.
    """

    __tablename__ = "support_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A SupportRequestKind value (bridge.services.support_queue).
    kind: Mapped[str] = mapped_column(String(30))
    # The person who asked, when they asked signed in (a deactivation request).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"), index=True)
    full_name: Mapped[str] = mapped_column(String(600))
    organization: Mapped[str | None] = mapped_column(String(500))
    # Where the outcome is mailed; NULL when a signed-in person has no address on their card.
    email: Mapped[str | None] = mapped_column(String(320))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when support closes the item: when, by whom (an audit actor), with which outcome.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    # A SupportOutcome value.
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_note: Mapped[str | None] = mapped_column(Text)


# --- Outgoing mail -----------------------------------------------------------------------------


class OutgoingMail(Base):
    """A message queued in the transaction that caused it, sent after commit by the dispatcher.

    A transactional outbox: a rolled-back change sends nothing, and an SMTP outage loses nothing
    (the row waits and is retried). Bodies can hold an activation link, so they are blanked once
    the message is sent or given up; the row keeps who, what kind and when.
    """

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A MailKind value (bridge.mail.templates): which template wrote it.
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text, default="")
    html_body: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # An OutboxStatus value: queued → sent, or queued → failed after the last attempt.
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due when queued and next_attempt_at has passed; a claim pushes it past the send's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- OpenID Provider -------------------------------------------------------------------------


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Keyed HMAC-SHA256 of the secret (not the password hash: checked on every token call).
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    # "client_secret_basic", "client_secret_post" or "none" (public client).
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(String(500), default="openid profile")
    # "ES256" or "RS256"; NULL signs the app's id_tokens with the bridge's default algorithm.
    id_token_signed_response_alg: Mapped[str | None] = mapped_column(String(10))
    # Origins whose browser scripts may call the token and userinfo endpoints (CORS), besides
    # the origins of the redirect URIs.
    web_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # OpenID Connect Back-Channel Logout 1.0: where the app hears that a person's session ended,
    # and whether it wants the session (`sid`) named in every logout token.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(1000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # A resource server: may introspect tokens issued to any app (otherwise only its own).
    introspect_any: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the code: a database leak yields no usable codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    # Indexed: purging a session checks that no code still names it.
    signin_session_id: Mapped[str] = mapped_column(ForeignKey("signin_sessions.id"), index=True)
    role_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("role_assignments.id"))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(200))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OAuthGrant(Base):
    """One authorization, from the redemption of its code on; keyed by the refresh-token family.

    Every access token names its grant (claim `grant_id`), and userinfo refuses a token whose
    grant is revoked: a reused code or refresh token recalls the access tokens already issued.
    """

    __tablename__ = "oauth_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    signin_session_id: Mapped[str] = mapped_column(ForeignKey("signin_sessions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # For reading a grant with its sign-in session in one query (userinfo); written through the id.
    signin_session: Mapped[SignInSession] = relationship(viewonly=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Every rotation keeps the family; reuse of a rotated token revokes the whole family.
    family: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    signin_session_id: Mapped[str] = mapped_column(ForeignKey("signin_sessions.id"), index=True)
    role_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("role_assignments.id"))
    scope: Mapped[str] = mapped_column(String(500))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LogoutDelivery(Base):
    """A logout token owed to a relying app, queued in the transaction that ended the session.

    The token itself is signed only when it is sent (by bridge.op.backchannel), so the row holds
    nothing that could be replayed: who (the `sub` and, when the app asked, the `sid`) and to whom.
    """

    __tablename__ = "logout_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    staff_id: Mapped[int] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(36))
    sid: Mapped[str | None] = mapped_column(String(32))
    # A DeliveryStatus value: queued → delivered, or queued → failed after the last attempt.
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due when queued and next_attempt_at has passed; a claim pushes it past the delivery's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SigningKey(Base):
    """The bridge's own token-signing keys; the private half wrapped under a key-encryption key.

    At most one key per algorithm is active (a unique partial index), so workers rotating or
    creating keys at once cannot leave two signing. Retired keys stay published until dropped.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint(
            "plaintext_jwk IS NOT NULL OR (wrapped_jwk IS NOT NULL AND kek_id IS NOT NULL)", name="key_material"
        ),
        Index(
            "ix_signing_keys_one_active_per_alg", "alg", unique=True,
            sqlite_where=text("retired_at IS NULL"), postgresql_where=text("retired_at IS NULL"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(10))
    # The public half, as published in JWKS.
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The private JWK sealed with AES-256-GCM (bridge.services.key_encryption) under the KEK `kek_id`.
    kek_id: Mapped[str | None] = mapped_column(String(8))
    wrapped_jwk: Mapped[str | None] = mapped_column(Text)
    # Only keys written before encryption at rest (migration 0011), until a start with a KEK wraps them.
    plaintext_jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # NULL for the active key. Retired keys stay in JWKS until published_until passes.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- Audit -----------------------------------------------------------------------------------


class AuditEvent(Base):
    """Append-only and hash-chained (bridge.services.audit_chain): the migrations install triggers
    that refuse UPDATE, TRUNCATE and any DELETE not covered by a purge anchor."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Dotted event name, e.g. "credential.issued", "signin.refused".
    event: Mapped[str] = mapped_column(String(100), index=True)
    # "success", "refused" or "failure".
    outcome: Mapped[str] = mapped_column(String(20))
    # Who acted: a login, "cli:support", or "anonymous". Text, so it survives staff changes.
    actor: Mapped[str] = mapped_column(String(200))
    subject_staff_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(100))
    # Structured details; never secrets (no passwords, tokens or codes), never personal data
    # (that goes to AuditPersonalDetails, which can be erased).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The record's place in the hash chain: gapless, given at commit under the chain head's lock.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    # SHA-256 (hex) of the previous record, and of prev_hash plus this record's canonical form.
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPersonalDetails(Base):
    """The personal data an audit record is about (ФИО old → new, a block's reason), kept beside it.

    The audit log is append-only and must stay pseudonymous (152-ФЗ): it names a person by staff id
    and login only. What a record needs to say about a person's data lives here, one row per
    record, and is deleted with the rest of the person's data after a deactivation's retention.
    """

    __tablename__ = "audit_personal_details"

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditChainHead(Base):
    """The newest link of the audit chain; its one row is the lock that orders every writer."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """A signed statement "the chain had this hash at this seq"; append-only like the records."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    # A purge anchor allows deleting the records it covers (the triggers look for 'purge').
    reason: Mapped[AnchorReason] = mapped_column(stored_by_value(AnchorReason, length=20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kid: Mapped[str] = mapped_column(String(64))
    # The public half of the signing key, so an anchor stays checkable after its key is dropped.
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Compact JWS over {"seq", "hash", "reason", "iat"}: the payload is the authority, not the columns.
    jws: Mapped[str] = mapped_column(Text)
