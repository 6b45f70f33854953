"""The authorization endpoint and login page of the РСАА (code flow, PKCE S256, nonce, prompt, max_age).

Every answer to the relying party carries `iss` (RFC 9207, announced in the discovery document).
`acr_values` is advisory here: the id_token reports the person's own level (``rsaa.acr``).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ..pages import error_page, redirect_to
from ..persons import Person
from ..signin import current_session, login_page, person_from_form, set_session_cookie, store_for
from ..state import mock_state
from ..store import IssuedCode, PendingAuthorization, new_handle

PROVIDER = "rsaa"


class AuthorizationError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


async def authorize(request: Request) -> Response:
    state = mock_state(request)
    params = request.query_params
    client = state.config.rsaa_client(params.get("client_id", ""))
    if client is None:
        return error_page(request, PROVIDER, "Ошибка входа", "Неизвестная система (client_id).", code="invalid_client")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return error_page(request, PROVIDER, "Ошибка входа", "Адрес возврата (redirect_uri) не зарегистрирован.",
                          code="invalid_request")
    sent_state = params.get("state")
    issuer = state.config.rsaa_issuer
    try:
        if params.get("response_type") != "code":
            raise AuthorizationError("unsupported_response_type", "only response_type=code is supported")
        scopes = params.get("scope", "").split()
        if "openid" not in scopes:
            raise AuthorizationError("invalid_scope", "the openid scope is required")
        unknown = [scope for scope in scopes if scope not in client.scopes]
        if unknown:
            raise AuthorizationError("invalid_scope", f"scope not allowed: {' '.join(unknown)}")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain" if challenge else None)
        if challenge and method != "S256":
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256")
        if not challenge and client.require_pkce:
            raise AuthorizationError("invalid_request", "PKCE (code_challenge, S256) is required")
        prompt = params.get("prompt", "").split()
        max_age = _max_age(params.get("max_age"))
    except AuthorizationError as error:
        return redirect_to(redirect_uri, {"error": error.error, "error_description": error.description,
                                          "state": sent_state, "iss": issuer})

    pending = PendingAuthorization(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        state=sent_state or "",
        nonce=params.get("nonce") or None,
        code_challenge=challenge,
    )
    store = store_for(request, PROVIDER)
    found = current_session(request, PROVIDER)
    # An SSO session older than max_age does not count: the person signs in again.
    too_old = found is not None and max_age is not None and time.time() - found[1].auth_time > max_age
    if found is not None and "login" not in prompt and not too_old:
        session = found[1]
        person = state.persons.by_oid(session.person_oid)
        if person is not None:
            pending.auth_time, pending.sid = session.auth_time, session.sid
            return _finish(request, pending, person)
    if "none" in prompt:
        return redirect_to(redirect_uri, {"error": "login_required", "state": sent_state, "iss": issuer})
    return login_page(request, PROVIDER, store.park(pending))


async def login(request: Request) -> Response:
    form = await request.form()
    handle = str(form.get("request_id", ""))
    store = store_for(request, PROVIDER)
    pending = store.parked(handle)
    if pending is None:
        return error_page(request, PROVIDER, "Сеанс входа устарел", "Вернитесь в систему и начните вход заново.")
    person, typed = person_from_form(request, form)
    if person is None:
        return login_page(request, PROVIDER, handle, error="Неверный логин или пароль", login=typed)
    store.unpark(handle)
    session_id, session = store.start_session(person.oid)
    pending.auth_time, pending.sid = session.auth_time, session.sid
    response = _finish(request, pending, person)
    set_session_cookie(response, PROVIDER, session_id)
    return response


def _finish(request: Request, pending: PendingAuthorization, person: Person) -> Response:
    state = mock_state(request)
    state_param = pending.state or None
    issuer = state.config.rsaa_issuer
    if state.faults.take(PROVIDER, ("consent_refused",)):
        return redirect_to(pending.redirect_uri, {"error": "access_denied",
                                                  "error_description": "The user denied the request",
                                                  "state": state_param, "iss": issuer})
    code = new_handle(32)
    store_for(request, PROVIDER).codes[code] = IssuedCode(
        client_id=pending.client_id,
        redirect_uri=pending.redirect_uri,
        scope=pending.scope,
        person_oid=person.oid,
        sid=pending.sid,
        auth_time=pending.auth_time,
        expires_at=time.time() + state.config.code_lifetime_seconds,
        nonce=pending.nonce,
        code_challenge=pending.code_challenge,
    )
    return redirect_to(pending.redirect_uri, {"code": code, "state": state_param, "iss": issuer})


def _max_age(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise AuthorizationError("invalid_request", "max_age must be a non-negative integer")
    return int(value)
