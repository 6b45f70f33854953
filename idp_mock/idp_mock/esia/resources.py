"""/rs/prns/{oid} with /ctts and /roles: person data for a Bearer access token issued for that oid."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..persons import Person
from ..signin import store_for
from ..state import mock_state
from ..store import IssuedToken
from . import person_data

PROVIDER = "esia"


def _denied(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {}
    return JSONResponse({"code": "ESIA-007019", "message": message}, status_code=status, headers=headers)


def _authorize(request: Request) -> tuple[IssuedToken, Person] | Response:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return _denied(401, "Bearer access token required")
    issued = store_for(request, PROVIDER).live_access_token(value.strip())
    if issued is None:
        return _denied(401, "The access token is invalid or expired")
    oid = request.path_params["oid"]
    if issued.person_oid != oid:
        return _denied(403, "The access token was issued for another person")
    person = mock_state(request).persons.by_oid(oid)
    if person is None:
        return _denied(404, "No such person")
    return issued, person


def _embedded(request: Request, name: str) -> bool:
    embed = request.query_params.get("embed", "").strip("()")
    return name in {item.strip() for item in embed.split(",")}


def _contact_urls(request: Request, oid: str, elements: list[dict[str, Any]]) -> list[str]:
    base = mock_state(request).config.public_base_url
    return [f"{base}/esia/rs/prns/{oid}/ctts/{element['id']}" for element in elements]


async def person(request: Request) -> Response:
    found = _authorize(request)
    if isinstance(found, Response):
        return found
    issued, subject = found
    state = mock_state(request)
    if state.faults.take(PROVIDER, ("userinfo_wrong_sub",)):
        subject = state.persons.someone_else(subject)
    scopes = issued.scope.split(" ")
    body = person_data.person_body(subject, scopes)
    if _embedded(request, "contacts.elements"):
        body["contacts"] = person_data.collection(person_data.contacts(subject, scopes))
    if _embedded(request, "organizations.elements") and "usr_org" in scopes:
        body["organizations"] = person_data.collection(person_data.roles(subject))
    return JSONResponse(body)


async def contacts(request: Request) -> Response:
    found = _authorize(request)
    if isinstance(found, Response):
        return found
    issued, subject = found
    elements = person_data.contacts(subject, issued.scope.split(" "))
    if _embedded(request, "elements"):
        return JSONResponse(person_data.collection(elements))
    return JSONResponse(person_data.collection(_contact_urls(request, subject.oid, elements)))


async def contact(request: Request) -> Response:
    found = _authorize(request)
    if isinstance(found, Response):
        return found
    issued, subject = found
    wanted = request.path_params["contact_id"]
    for element in person_data.contacts(subject, issued.scope.split(" ")):
        if str(element["id"]) == wanted:
            return JSONResponse(element)
    return _denied(404, "No such contact")


async def roles(request: Request) -> Response:
    """The organizations the person acts for; ESIA answers them in full with or without ``embed``."""
    found = _authorize(request)
    if isinstance(found, Response):
        return found
    issued, subject = found
    if "usr_org" not in issued.scope.split(" "):
        return _denied(403, "The usr_org scope was not granted")
    return JSONResponse(person_data.collection(person_data.roles(subject)))
