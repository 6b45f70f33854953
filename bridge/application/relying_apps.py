"""Relying apps: the OAuth clients of our OpenID Provider, which technical support registers on its
pages or at the CLI (the same functions, the same rule).

An app's secret is shown once, at registration or at a new secret; disabling an app revokes its
refresh tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, require_support
from bridge.application.unit_of_work import unit_of_work
from bridge.config import Secret
from bridge.services import audit, clients
from bridge.services.oauth_tokens import revoke_client_tokens
from bridge.storage.models import OAuthClient


@dataclass(frozen=True)
class NewRelyingApp:
    name: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    # A public app has no secret and signs in with PKCE only.
    public: bool = False
    auth_method: str = "client_secret_basic"
    # None: a random one.
    client_id: str | None = None
    scope: str = clients.DEFAULT_SCOPE
    # None: the bridge's default signing algorithm.
    id_token_alg: str | None = None
    web_origins: tuple[str, ...] = ()
    # Back-Channel Logout 1.0: where the app hears of ended sessions, and whether it wants `sid`.
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    # A resource server that may introspect any app's tokens.
    introspect_any: bool = False


@dataclass(frozen=True)
class RelyingApp:
    client_id: str
    name: str
    token_endpoint_auth_method: str
    public: bool
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scope: str
    id_token_signed_response_alg: str | None
    # Origins whose browser scripts may call the token and userinfo endpoints.
    web_origins: tuple[str, ...]
    backchannel_logout_uri: str | None
    backchannel_logout_session_required: bool
    introspect_any: bool
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class RelyingAppRegistered:
    app: RelyingApp
    # Shown once, stored only as a keyed digest; None for a public app.
    client_secret: str | None = field(repr=False)


@dataclass(frozen=True)
class SecretRenewed:
    app: RelyingApp
    # Shown once; the previous secret stops working at once.
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class RelyingAppDisabled:
    app: RelyingApp
    revoked_refresh_tokens: int


def _support_only(db: Session, principal: Principal) -> None:
    require_support(db, principal, "Приложения ведёт техническая поддержка.")


def _app(client: OAuthClient) -> RelyingApp:
    return RelyingApp(
        client_id=client.client_id,
        name=client.name,
        token_endpoint_auth_method=client.token_endpoint_auth_method,
        public=client.secret_hash is None,
        redirect_uris=tuple(client.redirect_uris),
        post_logout_redirect_uris=tuple(client.post_logout_redirect_uris or []),
        scope=client.scope,
        id_token_signed_response_alg=client.id_token_signed_response_alg,
        web_origins=tuple(sorted(clients.client_web_origins(client))),
        backchannel_logout_uri=client.backchannel_logout_uri,
        backchannel_logout_session_required=bool(client.backchannel_logout_session_required),
        introspect_any=bool(client.introspect_any),
        created_at=client.created_at,
        disabled_at=client.disabled_at,
    )


def register_relying_app(
    database: sessionmaker[Session], principal: Principal, new: NewRelyingApp, *, secret_key: Secret
) -> RelyingAppRegistered:
    with unit_of_work(database, audit_context_of(principal), "oidc.client.register") as db:
        _support_only(db, principal)
        registered = clients.register_client(
            db,
            secret_key,
            name=new.name,
            redirect_uris=list(new.redirect_uris),
            post_logout_redirect_uris=list(new.post_logout_redirect_uris),
            public=new.public,
            auth_method=new.auth_method,
            client_id=new.client_id,
            scope=new.scope,
            id_token_alg=new.id_token_alg,
            web_origins=list(new.web_origins),
            backchannel_logout_uri=new.backchannel_logout_uri,
            backchannel_logout_session_required=new.backchannel_logout_session_required,
            introspect_any=new.introspect_any,
        )
        client = registered.client
        audit.record(
            db, audit_context_of(principal), "oidc.client.registered", "success",
            client_id=client.client_id, auth_method=client.token_endpoint_auth_method,
            redirect_uris=client.redirect_uris, backchannel_logout_uri=client.backchannel_logout_uri,
            introspect_any=client.introspect_any,
        )
        return RelyingAppRegistered(app=_app(client), client_secret=registered.client_secret)


def update_relying_app(
    database: sessionmaker[Session], principal: Principal, client_id: str, changes: clients.ClientChanges
) -> RelyingApp:
    """`bridge client update`: the app's back-channel logout and introspection settings."""
    with unit_of_work(database, audit_context_of(principal), "oidc.client.update") as db:
        _support_only(db, principal)
        client = clients.update_client(db, client_id, changes)
        audit.record(
            db, audit_context_of(principal), "oidc.client.updated", "success", client_id=client.client_id,
            backchannel_logout_uri=client.backchannel_logout_uri,
            backchannel_logout_session_required=client.backchannel_logout_session_required,
            introspect_any=client.introspect_any,
        )
        return _app(client)


def list_relying_apps(database: sessionmaker[Session], principal: Principal) -> tuple[RelyingApp, ...]:
    with database() as db:
        _support_only(db, principal)
        return tuple(_app(client) for client in clients.list_clients(db))


def disable_relying_app(database: sessionmaker[Session], principal: Principal, client_id: str) -> RelyingAppDisabled:
    """The app can no longer sign anyone in; its refresh tokens are revoked."""
    with unit_of_work(database, audit_context_of(principal), "oidc.client.disable") as db:
        _support_only(db, principal)
        client = clients.disable_client(db, client_id)
        revoked = revoke_client_tokens(db, client.client_id)
        audit.record(
            db, audit_context_of(principal), "oidc.client.disabled", "success",
            client_id=client.client_id, revoked_refresh_tokens=revoked,
        )
        return RelyingAppDisabled(app=_app(client), revoked_refresh_tokens=revoked)


def show_relying_app(database: sessionmaker[Session], principal: Principal, client_id: str) -> RelyingApp:
    with database() as db:
        _support_only(db, principal)
        return _app(clients.get_client(db, client_id))


def renew_client_secret(
    database: sessionmaker[Session], principal: Principal, client_id: str, *, secret_key: Secret
) -> SecretRenewed:
    """A new secret for a confidential app; the old one no longer authenticates (one UPDATE)."""
    with unit_of_work(database, audit_context_of(principal), "oidc.client.renew_secret") as db:
        _support_only(db, principal)
        client, secret = clients.renew_client_secret(db, secret_key, client_id)
        audit.record(db, audit_context_of(principal), "oidc.client.secret_renewed", "success", client_id=client_id)
        return SecretRenewed(app=_app(client), client_secret=secret)


def change_redirect_uris(
    database: sessionmaker[Session], principal: Principal, client_id: str, redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
) -> RelyingApp:
    """New redirect URIs, each checked as at registration; the OP compares them exactly, character for character."""
    with unit_of_work(database, audit_context_of(principal), "oidc.client.change_redirect_uris") as db:
        _support_only(db, principal)
        client = clients.change_redirect_uris(db, client_id, list(redirect_uris), list(post_logout_redirect_uris))
        audit.record(
            db, audit_context_of(principal), "oidc.client.redirect_uris_changed", "success", client_id=client_id,
            redirect_uris=client.redirect_uris, post_logout_redirect_uris=client.post_logout_redirect_uris,
        )
        return _app(client)
