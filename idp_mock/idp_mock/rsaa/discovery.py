"""The РСАА discovery document and JWKS."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config import RSAA_AUTH_METHODS, RSAA_DEFAULT_SCOPES
from ..state import mock_state
from .claims import CLAIMS_SUPPORTED


async def openid_configuration(request: Request) -> Response:
    issuer = mock_state(request).config.rsaa_issuer
    return JSONResponse({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": list(RSAA_DEFAULT_SCOPES),
        "token_endpoint_auth_methods_supported": list(RSAA_AUTH_METHODS),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "acr_values_supported": ["1", "2"],
        # RFC 9207: every authorization response carries `iss`.
        "authorization_response_iss_parameter_supported": True,
    })


async def jwks(request: Request) -> Response:
    key = mock_state(request).keys.rsaa
    return JSONResponse({"keys": [key.public_jwk()]}, headers={"Cache-Control": "public, max-age=60"})
