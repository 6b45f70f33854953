"""Tester controls under /_mock/: fault queue, behaviour switches, persons, reset, the ESIA certificate, the clients."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .faults import FAULTS, PROVIDERS, FaultError
from .pages import render
from .state import mock_state


def _bad_request(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


async def index(request: Request) -> Response:
    state = mock_state(request)
    return render(request, "mock_index.html", "mock", config=state.config, faults=state.faults.pending(),
                  fault_names=FAULTS, providers=PROVIDERS, persons=state.persons.all(),
                  default_password=state.persons.default_password, behaviour=state.behaviour.to_json())


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": mock_state(request).faults.pending(), "available": list(FAULTS)})


async def add_fault(request: Request) -> Response:
    from_form = not request.headers.get("content-type", "").startswith("application/json")
    data: Any
    if from_form:
        data = dict(await request.form())
    else:
        try:
            data = await request.json()
        except json.JSONDecodeError:
            return _bad_request("body must be JSON")
    if not isinstance(data, dict):
        return _bad_request("body must be a JSON object")
    try:
        count = int(data.get("count", 1))
        entry = mock_state(request).faults.add(str(data.get("provider")), str(data.get("fault")), count)
    except (FaultError, ValueError) as error:
        return _bad_request(str(error))
    if from_form:
        return RedirectResponse("/_mock/", status_code=303)
    return JSONResponse({"queued": vars(entry), "faults": mock_state(request).faults.pending()}, status_code=201)


async def clear_faults(request: Request) -> Response:
    mock_state(request).faults.clear()
    return JSONResponse({"faults": []})


async def show_behaviour(request: Request) -> Response:
    return JSONResponse(mock_state(request).behaviour.to_json())


async def change_behaviour(request: Request) -> Response:
    """``{"esia_echo_nonce": false}`` (JSON), or a form from the tester page with "true"/"false" values."""
    from_form = not request.headers.get("content-type", "").startswith("application/json")
    data: Any
    if from_form:
        data = {key: value == "true" for key, value in (await request.form()).items()}
    else:
        try:
            data = await request.json()
        except json.JSONDecodeError:
            return _bad_request("body must be JSON")
    if not isinstance(data, dict):
        return _bad_request("body must be a JSON object")
    behaviour = mock_state(request).behaviour
    try:
        behaviour.update(data)
    except FaultError as error:
        return _bad_request(str(error))
    if from_form:
        return RedirectResponse("/_mock/", status_code=303)
    return JSONResponse(behaviour.to_json())


async def list_persons(request: Request) -> Response:
    persons = mock_state(request).persons
    return JSONResponse({"password": persons.default_password,
                         "persons": [person.to_json() for person in persons.all()]})


async def put_person(request: Request) -> Response:
    try:
        data = await request.json()
    except json.JSONDecodeError:
        return _bad_request("body must be JSON")
    if not isinstance(data, dict) or not data.get("oid"):
        return _bad_request("a JSON object with 'oid' is required")
    persons = mock_state(request).persons
    existed = persons.by_oid(str(data["oid"])) is not None
    try:
        person = persons.upsert(data)
    except (KeyError, TypeError, ValueError) as error:
        return _bad_request(f"invalid person: {error}")
    return JSONResponse(person.to_json(), status_code=200 if existed else 201)


async def reset(request: Request) -> Response:
    mock_state(request).reset()
    return JSONResponse({"status": "reset"})


async def esia_certificate(request: Request) -> Response:
    """The key ESIA's tokens are signed with: GOST JSON (plus ``kid``/``alg``) or an RSA public key PEM."""
    key = mock_state(request).keys.esia
    if key.alg == "RS256":
        return PlainTextResponse(key.public_text(), media_type="application/x-pem-file")
    return JSONResponse({**json.loads(key.public_text()), "kid": key.kid, "alg": key.alg})


async def clients(request: Request) -> Response:
    config = mock_state(request).config
    return JSONResponse({
        "esia": [
            {"client_id": c.client_id, "redirect_uris": list(c.redirect_uris), "scopes": list(c.scopes),
             "client_certificate_hash": c.expected_certificate_hash, "allow_untrusted": c.allow_untrusted}
            for c in config.esia_clients
        ],
        "rsaa": [
            {"client_id": c.client_id, "redirect_uris": list(c.redirect_uris),
             "token_endpoint_auth_methods": list(c.token_endpoint_auth_methods),
             "post_logout_redirect_uris": list(c.post_logout_redirect_uris), "require_pkce": c.require_pkce}
            for c in config.rsaa_clients
        ],
    })


routes = [
    Route("/", index, methods=["GET"]),
    Route("/faults", list_faults, methods=["GET"]),
    Route("/faults", add_fault, methods=["POST"]),
    Route("/faults", clear_faults, methods=["DELETE"]),
    Route("/behaviour", show_behaviour, methods=["GET"]),
    Route("/behaviour", change_behaviour, methods=["POST"]),
    Route("/persons", list_persons, methods=["GET"]),
    Route("/persons", put_person, methods=["POST"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/esia/certificate", esia_certificate, methods=["GET"]),
    Route("/clients", clients, methods=["GET"]),
]
