"""v3/te: a code (or refresh token) for tokens, after ESIA's checks; token-endpoint faults fire here."""

from __future__ import annotations

import time
from typing import Any

import anyio
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ..faults import ID_TOKEN_FAULTS, KEY_FAULTS, TOKEN_ENDPOINT_FAULTS
from ..signin import store_for
from ..state import MockState, mock_state
from ..store import IssuedToken, new_handle
from . import errors, tokens
from .errors import EsiaError, token_error
from .validation import (
    check_certificate_hash,
    check_client_secret,
    check_scope,
    check_state,
    check_timestamp,
    single,
)

PROVIDER = "esia"
MALFORMED_JSON = '{"access_token": "eyJ2ZXIiOjEsInR5cCI6IkpXVCJ9.eyJ", "id_token": '
ERROR_500_PAGE = (
    "<!doctype html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>Ошибка</title></head>"
    "<body><h1>500 Internal Server Error</h1><p>Сервис временно недоступен.</p></body></html>"
)


async def token(request: Request) -> Response:
    state = mock_state(request)
    form = await request.form()
    params = ImmutableMultiDict([(key, value) for key, value in form.multi_items() if isinstance(value, str)])
    sent_state = params.get("state")

    fault = state.faults.take(PROVIDER, TOKEN_ENDPOINT_FAULTS)
    if fault == "token_500":
        return HTMLResponse(ERROR_500_PAGE, status_code=500)
    if fault == "token_timeout":
        await anyio.sleep(state.config.token_timeout_delay_seconds)

    try:
        body = _exchange(state, request, params)
    except EsiaError as error:
        return token_error(error, sent_state)
    if fault == "token_malformed_json":
        return Response(MALFORMED_JSON, media_type="application/json")
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _exchange(state: MockState, request: Request, params: ImmutableMultiDict[str, str]) -> dict[str, Any]:
    store = store_for(request, PROVIDER)
    client_id = single(params, "client_id")
    client = state.config.esia_client(client_id)
    if client is None:
        raise EsiaError(errors.UNKNOWN_CLIENT, f"unknown client_id {client_id}")
    grant_type = single(params, "grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        raise EsiaError(errors.UNSUPPORTED_GRANT_TYPE)
    redirect_uri = single(params, "redirect_uri")
    if redirect_uri not in client.redirect_uris:
        raise EsiaError(errors.UNKNOWN_REDIRECT_URI)
    scope = single(params, "scope")
    scope_org = single(params, "scope_org", required=False)
    fresh_state = single(params, "state")
    timestamp = single(params, "timestamp")
    if single(params, "token_type") != "Bearer":
        raise EsiaError(errors.INVALID_PARAMETER, "token_type must be Bearer")
    certificate_hash = single(params, "client_certificate_hash")
    secret = single(params, "client_secret")
    grant_value = single(params, "code" if grant_type == "authorization_code" else "refresh_token")
    check_state(fresh_state)
    check_timestamp(timestamp, state.config.timestamp_tolerance_seconds)
    scopes = check_scope(scope, client)
    check_certificate_hash(certificate_hash, client)
    check_client_secret(client, secret, client_id, scope, scope_org, timestamp, fresh_state, redirect_uri,
                        grant_value)

    if grant_type == "authorization_code":
        code = store.codes.get(grant_value)
        if code is None or code.client_id != client_id:
            raise EsiaError(errors.INVALID_GRANT)
        if code.used:
            store.revoke_for_code(code)
            raise EsiaError(errors.INVALID_GRANT, "the code was already used")
        if code.expires_at < time.time():
            raise EsiaError(errors.INVALID_GRANT, "the code has expired")
        if code.redirect_uri != redirect_uri:
            raise EsiaError(errors.INVALID_GRANT, "redirect_uri differs from the authorization request")
        code.used = True
        granted = IssuedToken(client_id, code.scope, code.person_oid, code.sid, code.auth_time, 0.0,
                              code.nonce, code.scope_org)
    else:
        previous = store.refresh_tokens.pop(grant_value, None)
        if previous is None or previous.client_id != client_id:
            raise EsiaError(errors.INVALID_GRANT)
        granted = previous
        code = None
    if not set(scopes) <= set(granted.scope.split(" ")):
        raise EsiaError(errors.INVALID_SCOPE, "wider than the authorization")
    person = state.persons.by_oid(granted.person_oid)
    if person is None:
        raise EsiaError(errors.INVALID_GRANT, "the person no longer exists")

    if state.faults.take(PROVIDER, KEY_FAULTS):
        state.keys.rotate(PROVIDER)
    key = state.keys.esia
    lifetime = state.config.token_lifetime_seconds
    issued = IssuedToken(client_id, scope, person.oid, granted.sid, granted.auth_time, time.time() + lifetime,
                         granted.nonce, scope_org)
    access = tokens.access_token(state.config, key, person, client_id, scopes, granted.sid)
    store.access_tokens[access] = issued
    if code is not None:
        code.access_tokens.append(access)
    refresh = new_handle(32)
    store.refresh_tokens[refresh] = issued
    body: dict[str, Any] = {
        "access_token": access,
        "expires_in": lifetime,
        "state": fresh_state,
        "token_type": "Bearer",
        "refresh_token": refresh,
    }
    if "openid" in scopes:
        fault = state.faults.take(PROVIDER, ID_TOKEN_FAULTS)
        # Production ESIA no longer echoes the nonce; the tester's switch plays that.
        nonce = granted.nonce if state.behaviour.esia_echo_nonce else None
        body["id_token"] = tokens.id_token(state.config, key, person, client_id, granted.auth_time, granted.sid,
                                           nonce, fault)
    return body
