"""The РСАА userinfo endpoint (Bearer access token, GET or POST)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..signin import store_for
from ..state import mock_state
from .claims import person_claims

PROVIDER = "rsaa"


async def userinfo(request: Request) -> Response:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    issued = store_for(request, PROVIDER).live_access_token(value.strip()) if scheme.lower() == "bearer" else None
    state = mock_state(request)
    person = state.persons.by_oid(issued.person_oid) if issued else None
    if issued is None or person is None:
        return JSONResponse({"error": "invalid_token", "error_description": "unknown or expired access token"},
                            status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    sub = None
    if state.faults.take(PROVIDER, ("userinfo_wrong_sub",)):
        sub = state.persons.someone_else(person).rsaa.sub
    return JSONResponse(person_claims(person, issued.scope.split(" "), sub=sub))
