"""``create_app(config)``: the Starlette app serving both providers and the tester controls."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from .access_log import AccessLogMiddleware
from .config import MockConfig
from .esia.routes import routes as esia_routes
from .rsaa.routes import routes as rsaa_routes
from .state import MockState
from .tester import routes as tester_routes


async def home(request: Request) -> Response:
    return RedirectResponse("/_mock/", status_code=302)


def create_app(config: MockConfig) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Mount("/esia", routes=esia_routes),
            Mount("/rsaa", routes=rsaa_routes),
            Mount("/_mock", routes=tester_routes),
        ],
        middleware=[Middleware(AccessLogMiddleware)],
    )
    app.state.mock = MockState(config)
    return app
