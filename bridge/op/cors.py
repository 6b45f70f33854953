"""CORS for the endpoints a browser app calls itself (token, userinfo): registered origins only.

An app's web origins are the origins of its redirect URIs plus any registered with
`--web-origin`. An answer carries `Access-Control-Allow-Origin: <origin>` only when that origin
belongs to the app the request is for (the authenticated or named client, the client of the
access token); a preflight, which names no app yet, is answered for any enabled app's origin
and refused (403, no CORS headers) otherwise. Discovery and JWKS stay public (`*`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.responses import Response

from bridge.services.clients import cors_origin_allowed

PREFLIGHT_MAX_AGE_SECONDS = 600
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type"


def add_cors_headers(db: Session, response: Response, origin: str | None, client_id: str | None) -> None:
    # The answer depends on the Origin: caches must keep one per origin.
    response.headers["Vary"] = "Origin"
    if origin and cors_origin_allowed(db, origin, client_id):
        response.headers["Access-Control-Allow-Origin"] = origin


def preflight_response(db: Session, origin: str | None, requested_method: str | None, methods: list[str]) -> Response:
    if not origin or requested_method not in methods or not cors_origin_allowed(db, origin, None):
        return Response(status_code=403, headers={"Vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            "Vary": "Origin",
        },
    )
