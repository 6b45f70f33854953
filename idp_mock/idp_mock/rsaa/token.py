"""The РСАА token endpoint: client authentication (basic/post), code + PKCE, refresh; faults fire here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import unquote

import anyio
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config import RsaaClient
from ..faults import ID_TOKEN_FAULTS, KEY_FAULTS, TOKEN_ENDPOINT_FAULTS
from ..signin import store_for
from ..state import MockState, mock_state
from ..store import IssuedToken, new_handle
from . import tokens

PROVIDER = "rsaa"
MALFORMED_JSON = '{"access_token": "x", "token_type": "Bearer", "id_token": "eyJhbGciOi'


class TokenError(Exception):
    def __init__(self, error: str, description: str, status_code: int = 400, basic: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.basic = basic

    def response(self) -> Response:
        headers = {"Cache-Control": "no-store"}
        if self.basic:
            headers["WWW-Authenticate"] = 'Basic realm="rsaa"'
        return JSONResponse({"error": self.error, "error_description": self.description},
                            status_code=self.status_code, headers=headers)


async def token(request: Request) -> Response:
    state = mock_state(request)
    form = await request.form()
    fault = state.faults.take(PROVIDER, TOKEN_ENDPOINT_FAULTS)
    if fault == "token_500":
        return JSONResponse({"error": "server_error", "error_description": "Internal error"}, status_code=500)
    if fault == "token_timeout":
        await anyio.sleep(state.config.token_timeout_delay_seconds)
    try:
        client = _authenticate_client(state, request, form)
        body = _grant(state, request, form, client)
    except TokenError as error:
        return error.response()
    if fault == "token_malformed_json":
        return Response(MALFORMED_JSON, media_type="application/json")
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def _authenticate_client(state: MockState, request: Request, form: FormData) -> RsaaClient:
    header = request.headers.get("Authorization", "")
    posted_id, posted_secret = _text(form, "client_id"), _text(form, "client_secret")
    if header.lower().startswith("basic "):
        if posted_secret:
            raise TokenError("invalid_request", "use one client authentication method")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise TokenError("invalid_client", "malformed Basic credentials", 401, basic=True) from error
        raw_id, _, raw_secret = decoded.partition(":")
        client_id, secret, method = unquote(raw_id), unquote(raw_secret), "client_secret_basic"
    elif posted_id and posted_secret:
        client_id, secret, method = posted_id, posted_secret, "client_secret_post"
    else:
        raise TokenError("invalid_client", "client authentication required", 401, basic=True)
    client = state.config.rsaa_client(client_id)
    basic = method == "client_secret_basic"
    if client is None or not hmac.compare_digest(client.client_secret.encode(), secret.encode()):
        raise TokenError("invalid_client", "client authentication failed", 401, basic=basic)
    if method not in client.token_endpoint_auth_methods:
        raise TokenError("invalid_client", f"{method} is not allowed for this client", 401, basic=basic)
    if posted_id and posted_id != client_id:
        raise TokenError("invalid_request", "client_id differs from the authenticated client")
    return client


def _grant(state: MockState, request: Request, form: FormData, client: RsaaClient) -> dict[str, Any]:
    store = store_for(request, PROVIDER)
    grant_type = _text(form, "grant_type")
    if grant_type == "authorization_code":
        code = store.codes.get(_text(form, "code") or "")
        if code is None or code.client_id != client.client_id:
            raise TokenError("invalid_grant", "unknown code")
        if code.used:
            store.revoke_for_code(code)
            raise TokenError("invalid_grant", "the code was already used")
        if code.expires_at < time.time():
            raise TokenError("invalid_grant", "the code has expired")
        if _text(form, "redirect_uri") != code.redirect_uri:
            raise TokenError("invalid_grant", "redirect_uri differs from the authorization request")
        verifier = _text(form, "code_verifier")
        if code.code_challenge is None and verifier is not None:
            # RFC 9700 2.1.1: a verifier for a code issued without a challenge is a PKCE downgrade.
            raise TokenError("invalid_grant", "code_verifier sent for a code issued without code_challenge")
        if code.code_challenge is not None:
            if verifier is None:
                raise TokenError("invalid_grant", "code_verifier is required")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=")
            if not hmac.compare_digest(computed.decode("ascii"), code.code_challenge):
                raise TokenError("invalid_grant", "code_verifier does not match code_challenge")
        code.used = True
        granted = IssuedToken(client.client_id, code.scope, code.person_oid, code.sid, code.auth_time, 0.0,
                              code.nonce)
    elif grant_type == "refresh_token":
        previous = store.refresh_tokens.pop(_text(form, "refresh_token") or "", None)
        if previous is None or previous.client_id != client.client_id:
            raise TokenError("invalid_grant", "unknown refresh_token")
        granted, code = previous, None
    else:
        raise TokenError("unsupported_grant_type", "authorization_code or refresh_token")
    person = state.persons.by_oid(granted.person_oid)
    if person is None:
        raise TokenError("invalid_grant", "the person no longer exists")

    if state.faults.take(PROVIDER, KEY_FAULTS):
        state.keys.rotate(PROVIDER)
    lifetime = state.config.token_lifetime_seconds
    access = new_handle(32)
    issued = IssuedToken(client.client_id, granted.scope, person.oid, granted.sid, granted.auth_time,
                         time.time() + lifetime, granted.nonce)
    store.access_tokens[access] = issued
    if code is not None:
        code.access_tokens.append(access)
    refresh = new_handle(32)
    store.refresh_tokens[refresh] = issued
    fault = state.faults.take(PROVIDER, ID_TOKEN_FAULTS)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "refresh_token": refresh,
        "scope": granted.scope,
        "id_token": tokens.id_token(state.config, state.keys.rsaa, person, client.client_id, granted, access, fault),
    }
