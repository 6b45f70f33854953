"""The application factory: one place that assembles the bridge from Settings."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bridge.blocking import WORKER_THREADS, run_blocking, worker_threads
from bridge.config import Settings
from bridge.housekeeping_task import HousekeepingTask
from bridge.observability.request_id import RequestIdMiddleware
from bridge.runtime import BridgeRuntime, build_runtime
from bridge.services.housekeeping import RetentionPolicy
from bridge.services.signing_keys import maintain_signing_keys
from bridge.storage.outage import is_outage
from bridge.web.access_log import AccessLogMiddleware
from bridge.web.browser import BrowserIdMiddleware
from bridge.web.csrf import CSRFMiddleware
from bridge.web.errors import http_error, server_error
from bridge.web.proxies import TrustedProxyMiddleware
from bridge.web.security_headers import SecurityHeadersMiddleware
from bridge.web.templating import TEMPLATES_DIR, build_environment
from bridge.web.text_guard import TextGuardMiddleware
from bridge.web.unavailable import temporarily_unavailable

# The only routes whose unsafe requests are not CSRF-checked (bridge/web/csrf.py), by route name.
# Each proves its caller otherwise and acts on no cookie; a route added here needs a reason beside it.
CSRF_EXEMPT = frozenset({
    # Relying apps' servers, authenticated by their client secret or signed assertion.
    "oidc_token",
    # RFC 7009 and RFC 7662: apps' and resource servers' servers, authenticated like at the token endpoint.
    "oidc_revoke",
    "oidc_introspect",
    # A bearer access token; browser-based apps call it cross-origin (CORS).
    "oidc_userinfo",
    # OIDC Core 3.1.2.1: an app may POST the authorization request from its own page; the answer is
    # only a redirect to the same request as a GET, which any link could make.
    "oidc_authorize",
})


log = logging.getLogger("bridge.mail")


async def database_error(request: Request, exc: Exception) -> Response:
    """An outage of the database is a 503 to come back from; any other database error stays a 500."""
    if is_outage(exc):
        return temporarily_unavailable(request, exc.__class__.__name__)
    return await server_error(request, exc)


def collect_routes() -> list[BaseRoute]:
    from bridge.routes import (
        activation,
        admin,
        admin_import,
        admin_lifecycle,
        admin_requests,
        admin_staff,
        audit_viewer,
        cabinet,
        home,
        oidc_provider,
        operations,
        profile,
        registration,
        signin,
        support,
        support_apps,
        support_registry,
    )

    # The router tries routes in this order, one regular expression each: the ones every sign-in passes
    # through come first, not behind ~80 staff pages (a POST is looked up twice, by the CSRF check too).
    # No two modules' routes answer the same request (tests/web/test_route_table.py), so the order of
    # modules changes nothing else.
    return [
        *home.routes,
        *operations.routes,
        *oidc_provider.routes,
        *signin.routes,
        Mount("/static", app=StaticFiles(directory=TEMPLATES_DIR / "static"), name="static"),
        *profile.routes,
        *registration.routes,
        *admin_requests.routes,
        *admin_staff.routes,
        *admin_import.routes,
        *activation.routes,
        *admin.routes,
        *admin_lifecycle.routes,
        *cabinet.routes,
        *support.routes,
        *support_registry.routes,
        *support_apps.routes,
        *audit_viewer.routes,
    ]


def freeze_startup_heap() -> None:
    """What start-up built (modules, routes, compiled SQL, templates, keys) lives as long as the
    process: collected once, then moved out of the cyclic collector's sight (`gc.freeze`), so a
    full collection scans what requests made (about 7,000 objects, not 140,000). Each full pass
    over the start-up heap held every thread for 35–45 ms of CPU under load, measured with
    `gc.callbacks`: a stall that reached the latency of every request in flight."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, *, runtime: BridgeRuntime | None = None, served: bool = False) -> Starlette:
    """Build the bridge. Pass `runtime` to share objects with a test (it then owns closing them).

    `served` is `bridge serve`'s process, which the app has to itself: its start-up heap is frozen
    once started (never in a test process, where it would keep every test's garbage)."""
    settings.check_startable()
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if app.state.runtime is None:
            app.state.runtime = build_runtime(settings)
        runtime: BridgeRuntime = app.state.runtime
        try:
            # The app's blocking calls run in these threads, one per pooled database connection; the
            # block ends when the calls still running have finished, before the database is closed.
            async with worker_threads(WORKER_THREADS):
                # Keys still stored in plaintext are wrapped, missing keys made, due keys rotated: at
                # start, not at the first token request.
                await run_blocking(maintain_signing_keys, runtime.db, runtime.signing_keys)
                housekeeping = HousekeepingTask(
                    runtime.db, settings.housekeeping, RetentionPolicy.of(settings.housekeeping, settings)
                )
                housekeeping.start()
                async with anyio.create_task_group() as background:
                    if runtime.mail is not None and settings.mail.enabled:
                        background.start_soon(runtime.mail.run)
                    elif runtime.mail is not None:
                        log.warning(
                            "BRIDGE_SMTP_HOST is not set: mail waits in the outbox until a mail server is configured"
                        )
                    if runtime.logout is not None:
                        background.start_soon(runtime.logout.run)
                    if served:
                        freeze_startup_heap()
                    try:
                        yield
                    finally:
                        background.cancel_scope.cancel()
                        await housekeeping.stop()
        finally:
            if served:
                gc.unfreeze()
            if owns_runtime:
                await runtime.aclose()

    app = Starlette(
        routes=collect_routes(),
        middleware=[
            # Outermost: every log line of the request, the access line included, carries its id.
            Middleware(RequestIdMiddleware),
            # First, so that the access line, every route, the audit log and the throttle see the
            # real client.
            Middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies, header=settings.proxy_header),
            # Then the access line, so it sees every answer; entry points turn uvicorn's off.
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
            # The flow cookie carries only an opaque browser id; ceremonies live in auth_flows.
            Middleware(BrowserIdMiddleware, settings=settings),
            # No NUL character in a path, query string, header or form field reaches a route (or
            # PostgreSQL, which refuses one in a query): a 400, the CSRF-exempt endpoints included.
            Middleware(TextGuardMiddleware),
            # Every unsafe request carries this browser's token, unless its route is in CSRF_EXEMPT.
            Middleware(CSRFMiddleware, exempt=CSRF_EXEMPT),
        ],
        exception_handlers={
            HTTPException: http_error, DBAPIError: database_error, PoolTimeoutError: database_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.templates = build_environment()
    return app
