"""What an operator's tools ask: /healthz (the process answers), /readyz (it can serve), /metrics."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application.service_status import database_readiness, mail_queue, pool_use
from bridge.blocking import run_blocking
from bridge.observability.metrics import ScrapeTimeGauges, render
from bridge.upstream.base import UpstreamError
from bridge.upstream.oidc import OidcProvider
from bridge.web.context import client_address, runtime_of, settings_of


async def health(request: Request) -> Response:
    """Alive: the event loop answers. Nothing else is asked, so a restart is not caused by a dependency."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready: the database answers and the signing key unwraps (else 503, and a balancer sends no one).

    Upstream discovery is fetched if stale and reported, but does not make the bridge unready: with
    the upstream down every node would leave the balancer, and people would get no page at all
    instead of the Russian «сервис входа недоступен» one.
    """
    runtime = runtime_of(request)
    state = await run_blocking(
        database_readiness, runtime.db, runtime.signing_keys, runtime.settings.signing_alg
    )
    upstream: dict[str, str] = {}
    for provider in runtime.upstream:
        if not isinstance(provider, OidcProvider):
            upstream[provider.key] = "static"
            continue
        try:
            await provider.refresh_discovery(runtime.http)
            upstream[provider.key] = "fresh"
        except UpstreamError:
            upstream[provider.key] = "unreachable"
    is_ready = state.database and state.signing_key
    body = {
        "status": "ready" if is_ready else "not_ready",
        "database": "ok" if state.database else "unreachable",
        "signing_key": "ok" if state.signing_key else "unusable",
        "upstream": upstream,
    }
    return JSONResponse(body, status_code=200 if is_ready else 503, headers={"Cache-Control": "no-store"})


def may_read_metrics(request: Request) -> bool:
    """From an allowed network (the client behind trusted proxies) and, if a token is set, with it."""
    settings = settings_of(request)
    address = client_address(request)
    try:
        client = ip_address(address) if address else None
    except ValueError:
        client = None
    if client is None or not any(client in network for network in settings.metrics_networks):
        return False
    if settings.metrics_token is None:
        return True
    expected = f"Bearer {settings.metrics_token}".encode()
    return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)


async def metrics(request: Request) -> Response:
    if not may_read_metrics(request):
        # As if there were nothing here: a stranger learns neither that metrics exist nor why not.
        return JSONResponse({"error": "http_404", "message": "Not Found"}, status_code=404)
    runtime = runtime_of(request)
    queue = await run_blocking(mail_queue, runtime.db)
    gauges = ScrapeTimeGauges({
        "bridge_mail_outbox": ("Messages in the mail outbox: pending (queued) and failed", "state", queue),
        "bridge_db_pool_connections": (
            "This process's database connections: checked_out, idle, size", "state", pool_use(runtime.engine)
        ),
    })
    body, content_type = render(gauges)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    Route("/healthz", health, methods=["GET"], name="health"),
    Route("/readyz", ready, methods=["GET"], name="ready"),
    Route("/metrics", metrics, methods=["GET"], name="metrics"),
]
