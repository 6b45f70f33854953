"""v2/ac and the pages behind it: login, consent, and the redirect with a code (or an ESIA error)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from ..pages import error_page, redirect_to, render
from ..persons import Person
from ..signin import current_session, login_page, person_from_form, set_session_cookie, store_for
from ..state import mock_state
from ..store import IssuedCode, PendingAuthorization, new_handle
from . import errors
from .errors import EsiaError, html_error, redirect_error
from .scopes import describe
from .validation import (
    check_certificate_hash,
    check_client_secret,
    check_scope,
    check_state,
    check_timestamp,
    single,
)

PROVIDER = "esia"


async def authorize(request: Request) -> Response:
    state = mock_state(request)
    params = request.query_params
    # Until client_id and redirect_uri are known good, errors stay on ESIA's own page.
    try:
        client_id = single(params, "client_id")
        client = state.config.esia_client(client_id)
        if client is None:
            raise EsiaError(errors.UNKNOWN_CLIENT, f"unknown client_id {client_id}")
        redirect_uri = single(params, "redirect_uri")
        if redirect_uri not in client.redirect_uris:
            raise EsiaError(errors.UNKNOWN_REDIRECT_URI)
    except EsiaError as error:
        return html_error(request, error)

    sent_state = params.get("state")
    try:
        response_type = single(params, "response_type")
        if response_type != "code":
            raise EsiaError(errors.UNSUPPORTED_RESPONSE_TYPE)
        scope = single(params, "scope")
        scope_org = single(params, "scope_org", required=False)
        state_value = single(params, "state")
        timestamp = single(params, "timestamp")
        secret = single(params, "client_secret")
        certificate_hash = single(params, "client_certificate_hash")
        access_type = single(params, "access_type", required=False) or "online"
        if access_type not in ("online", "offline"):
            raise EsiaError(errors.INVALID_PARAMETER, "access_type is online or offline")
        check_state(state_value)
        check_timestamp(timestamp, state.config.timestamp_tolerance_seconds)
        check_scope(scope, client)
        check_certificate_hash(certificate_hash, client)
        check_client_secret(client, secret, client_id, scope, scope_org, timestamp, state_value, redirect_uri)
    except EsiaError as error:
        return redirect_error(redirect_uri, error, sent_state)

    pending = PendingAuthorization(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state_value,
        nonce=params.get("nonce") or None,
        scope_org=scope_org,
        access_type=access_type,
    )
    handle = store_for(request, PROVIDER).park(pending)
    found = current_session(request, PROVIDER)
    if found is not None:
        session = found[1]
        person = state.persons.by_oid(session.person_oid)
        if person is not None:
            pending.auth_time, pending.sid = session.auth_time, session.sid
            return after_login(request, handle, pending, person)
    return login_page(request, PROVIDER, handle)


async def show_login(request: Request) -> Response:
    """The login page again, e.g. "another user" from the consent page."""
    handle = request.query_params.get("request_id", "")
    if store_for(request, PROVIDER).parked(handle) is None:
        return _expired(request)
    return login_page(request, PROVIDER, handle)


async def login(request: Request) -> Response:
    form = await request.form()
    handle = str(form.get("request_id", ""))
    store = store_for(request, PROVIDER)
    pending = store.parked(handle)
    if pending is None:
        return _expired(request)
    person, typed = person_from_form(request, form)
    if person is None:
        return login_page(request, PROVIDER, handle, error="Неверный логин или пароль", login=typed)
    session_id, session = store.start_session(person.oid)
    pending.auth_time, pending.sid = session.auth_time, session.sid
    response = after_login(request, handle, pending, person)
    set_session_cookie(response, PROVIDER, session_id)
    return response


def after_login(request: Request, handle: str, pending: PendingAuthorization, person: Person) -> Response:
    state = mock_state(request)
    store = store_for(request, PROVIDER)
    client = state.config.esia_client(pending.client_id)
    assert client is not None
    pending.person_oid = person.oid
    refusal: EsiaError | None = None
    if not person.trusted and not client.allow_untrusted:
        refusal = EsiaError(errors.UNTRUSTED_ACCOUNT)
    elif pending.scope_org and pending.scope_org not in {org.oid for org in person.organizations}:
        refusal = EsiaError(errors.NOT_AN_EMPLOYEE, f"scope_org {pending.scope_org}")
    elif state.faults.take(PROVIDER, ("consent_refused",)):
        refusal = EsiaError(errors.ACCESS_DENIED)
    if refusal is not None:
        store.unpark(handle)
        return redirect_error(pending.redirect_uri, refusal, pending.state)
    scopes = set(pending.scope.split(" "))
    if scopes <= store.consents.get((person.oid, client.client_id), set()):
        return _issue_code(request, handle, pending, person)
    return render(
        request,
        "consent.html",
        PROVIDER,
        request_id=handle,
        client_id=client.client_id,
        person=person,
        scopes=describe(pending.scope.split(" ")),
    )


async def consent(request: Request) -> Response:
    form = await request.form()
    handle = str(form.get("request_id", ""))
    store = store_for(request, PROVIDER)
    pending = store.parked(handle)
    if pending is None or pending.person_oid is None:
        return _expired(request)
    person = mock_state(request).persons.by_oid(pending.person_oid)
    if person is None:
        return _expired(request)
    if form.get("decision") != "allow":
        store.unpark(handle)
        return redirect_error(pending.redirect_uri, EsiaError(errors.ACCESS_DENIED), pending.state)
    store.consents.setdefault((person.oid, pending.client_id), set()).update(pending.scope.split(" "))
    return _issue_code(request, handle, pending, person)


def _issue_code(request: Request, handle: str, pending: PendingAuthorization, person: Person) -> Response:
    state = mock_state(request)
    store = store_for(request, PROVIDER)
    code = new_handle(32)
    store.codes[code] = IssuedCode(
        client_id=pending.client_id,
        redirect_uri=pending.redirect_uri,
        scope=pending.scope,
        person_oid=person.oid,
        sid=pending.sid,
        auth_time=pending.auth_time,
        expires_at=time.time() + state.config.code_lifetime_seconds,
        nonce=pending.nonce,
        scope_org=pending.scope_org,
    )
    store.unpark(handle)
    return redirect_to(pending.redirect_uri, {"code": code, "state": pending.state})


def _expired(request: Request) -> Response:
    return error_page(request, PROVIDER, "Сеанс входа устарел",
                      "Вернитесь в информационную систему и начните вход заново.")
