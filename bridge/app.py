"""The application factory: one place that assembles the bridge from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bridge.config import Settings
from bridge.runtime import BridgeRuntime, build_runtime
from bridge.web.access_log import AccessLogMiddleware
from bridge.web.errors import http_error, server_error
from bridge.web.security_headers import SecurityHeadersMiddleware
from bridge.web.templating import TEMPLATES_DIR, build_environment

FLOW_COOKIE = "bridge_flow"
# OAuth state, nonce, PKCE verifiers and pending bindings live in this signed cookie;
# they are short-lived, so the cookie is too.
FLOW_COOKIE_MAX_AGE = timedelta(hours=1)


def collect_routes() -> list[BaseRoute]:
    from bridge.routes import admin, home, oidc_provider, signin

    return [
        *home.routes,
        *signin.routes,
        *admin.routes,
        *oidc_provider.routes,
        Mount("/static", app=StaticFiles(directory=TEMPLATES_DIR / "static"), name="static"),
    ]


def create_app(settings: Settings, *, runtime: BridgeRuntime | None = None) -> Starlette:
    """Build the bridge. Pass `runtime` to share objects with a test (it then owns closing them)."""
    settings.check_startable()
    owns_runtime = runtime is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if app.state.runtime is None:
            app.state.runtime = build_runtime(settings)
        try:
            yield
        finally:
            if owns_runtime:
                await app.state.runtime.aclose()

    app = Starlette(
        routes=collect_routes(),
        middleware=[
            # Outermost, so it sees every answer; entry points turn uvicorn's access log off.
            Middleware(AccessLogMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key.reveal(),
                session_cookie=FLOW_COOKIE,
                max_age=int(FLOW_COOKIE_MAX_AGE.total_seconds()),
                same_site="lax",
                https_only=settings.secure_cookies,
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.templates = build_environment()
    return app
