"""The process-wide objects a running bridge shares, built from Settings in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.config import Settings
from bridge.mail.dispatcher import OutboxDispatcher
from bridge.mail.smtp import SmtpTransport
from bridge.observability.request_id import send_request_id
from bridge.op.backchannel import LogoutDispatcher
from bridge.op.keys import KeyStore
from bridge.services.audit_chain import chain_at_commit
from bridge.services.audit_settings import configure_audit
from bridge.services.flow_state import PurgeSchedule
from bridge.services.signing_keys import SigningKeyPolicy
from bridge.storage.database import build_engine, build_sessionmaker
from bridge.upstream.http_client import upstream_client
from bridge.upstream.registry import UpstreamRegistry


@dataclass
class BridgeRuntime:
    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    # Outbound HTTP to upstream identity providers; tests inject one routed to the in-process mock.
    http: httpx.AsyncClient
    # How the OP's signing keys are unwrapped and rotated: worked out once, shared by the OP, the
    # lifespan's key maintenance and the audit anchors.
    signing_keys: SigningKeyPolicy
    upstream: UpstreamRegistry = field(default_factory=UpstreamRegistry)
    # Expired sign-in steps are purged now and then by whichever request parks a new one.
    flow_purge: PurgeSchedule = field(default_factory=PurgeSchedule)
    # Sends the mail outbox after commits and every poll; started by the app's lifespan.
    mail: OutboxDispatcher | None = None
    # Delivers back-channel logout tokens after the commits that queued them; started by the lifespan.
    logout: LogoutDispatcher | None = None

    # Filled by the parts that need them (upstream provider registry, OP key store, ...).
    extras: dict[str, Any] = field(default_factory=dict)

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.logout is not None:
            await self.logout.http.aclose()
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    http: httpx.AsyncClient | None = None,
    upstream: UpstreamRegistry | None = None,
    logout_http: httpx.AsyncClient | None = None,
) -> BridgeRuntime:
    engine = engine or build_engine(settings.database_url)
    http = http or upstream_client(settings.upstream_timeout_seconds)
    # Also on a client a test hands in: upstream calls carry the request's id whoever built the client.
    if send_request_id not in http.event_hooks["request"]:
        http.event_hooks["request"] = [*http.event_hooks["request"], send_request_id]
    if upstream is None:
        from bridge.upstream.configuration import load_upstream_registry

        upstream = load_upstream_registry(settings)
    signing_keys = settings.signing_keys.policy(settings)
    # Audit anchors are signed with the OP's key, which the keyring unwraps.
    database = configure_audit(build_sessionmaker(engine), settings.audit, signing_keys.keyring)
    chain_at_commit(database.class_)  # before any request runs: see its docstring
    mail = OutboxDispatcher(database, settings.mail, SmtpTransport(settings.mail).send)
    mail.wake_after_commit(database)
    # Relying apps are not the upstream: a client of their own, never following redirects.
    logout = LogoutDispatcher(
        database, KeyStore(database, signing_keys), issuer=settings.public_url, default_alg=settings.signing_alg,
        http=logout_http or httpx.AsyncClient(follow_redirects=False), settings=settings.backchannel,
    )
    logout.wake_after_commit(database)
    return BridgeRuntime(
        settings=settings, engine=engine, db=database, http=http, signing_keys=signing_keys, upstream=upstream,
        mail=mail, logout=logout,
    )
