"""«Заявка на подключение»: the public pages (seed 003, step 1). No sign-in, no JavaScript.

`GET /register` searches the registry (a GET form; matches are links), `GET /register?organization=ID`
shows the request form, `POST /register` files it and redirects to one calm page whatever was
filed. An organization not in the registry gets the form «Заявка на включение организации в реестр».
HTTP only: the use cases are bridge/application/registration.py.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application import registration
from bridge.application.registration import OrganizationRequestForm, RegistryOrganization, RequestForm
from bridge.blocking import run_blocking
from bridge.services.errors import DomainError, NotFound
from bridge.services.registration_requests import POSITION_TITLES, RequestsThrottled
from bridge.web.context import client_address, runtime_of, settings_of
from bridge.web.templating import render
from bridge.web.urls import path_for


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _organization_id(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 12 else None


def _values(form: FormData) -> dict[str, Any]:
    return {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}


def _positions() -> list[tuple[str, str]]:
    return [(position.value, title) for position, title in POSITION_TITLES.items()]


def _search_page(
    request: Request, query: str, found: tuple[RegistryOrganization, ...], *, error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {"query": query, "found": found, "searched": bool(query), "error": error}
    return render(request, "register/search.html", context, status_code=status_code)


def _form_page(
    request: Request, organization: RegistryOrganization, values: dict[str, Any], *, error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {"organization": organization, "values": values, "positions": _positions(), "error": error}
    return render(request, "register/form.html", context, status_code=status_code)


async def register_page(request: Request) -> Response:
    database = runtime_of(request).db
    organization_id = _organization_id(request.query_params.get("organization"))
    if organization_id is not None:
        organization = await run_blocking(registration.registry_organization, database, organization_id)
        if organization is not None:
            return _form_page(request, organization, {})
    query = request.query_params.get("q", "").strip()[:200]
    found = await run_blocking(registration.find_organizations, database, query) if query else ()
    return _search_page(request, query, found)


async def submit_request(request: Request) -> Response:
    database = runtime_of(request).db
    form = await request.form()
    values = _values(form)
    organization_id = _organization_id(_text(form, "organization_id"))
    organization = (
        await run_blocking(registration.registry_organization, database, organization_id)
        if organization_id is not None else None
    )
    if organization is None:
        return _search_page(
            request, "", (), status_code=400,
            error="Организации нет в реестре. Найдите её по названию или ИНН или отправьте заявку на "
            "включение организации в реестр.",
        )
    request_form = RequestForm(
        surname=_text(form, "surname"), name=_text(form, "name"), patronymic=_text(form, "patronymic") or None,
        no_patronymic=form.get("no_patronymic") == "1", organization_id=organization.id,
        position=_text(form, "position"), email=_text(form, "email"), requested=_text(form, "requested"),
    )
    try:
        await run_blocking(
            partial(
                registration.submit_registration_request, database, client_address(request), request_form,
                requests_page=settings_of(request).public_url + path_for(request, "admin_requests"),
            )
        )
    except RequestsThrottled as refusal:
        return _form_page(request, organization, values, error=refusal.message, status_code=429)
    except NotFound as refusal:
        return _search_page(request, "", (), error=refusal.message, status_code=400)
    except DomainError as refusal:
        return _form_page(request, organization, values, error=refusal.message, status_code=400)
    return RedirectResponse(path_for(request, "register_sent"), status_code=303)


async def sent_page(request: Request) -> Response:
    return render(request, "register/sent.html")


async def organization_page(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:200]
    digits = "".join(query.split())
    values = {"inn": digits} if digits.isdigit() else {"name": query}
    return render(request, "register/organization.html", {"values": values, "error": None})


async def submit_organization(request: Request) -> Response:
    form = await request.form()
    request_form = OrganizationRequestForm(
        name=_text(form, "name"), inn=_text(form, "inn"), contact_email=_text(form, "contact_email")
    )
    try:
        await run_blocking(
            registration.submit_organization_request, runtime_of(request).db, client_address(request), request_form
        )
    except DomainError as refusal:
        status = 429 if isinstance(refusal, RequestsThrottled) else 400
        context = {"values": _values(form), "error": refusal.message}
        return render(request, "register/organization.html", context, status_code=status)
    return RedirectResponse(path_for(request, "register_organization_sent"), status_code=303)


async def organization_sent_page(request: Request) -> Response:
    return render(request, "register/organization_sent.html")


routes: list[BaseRoute] = [
    Route("/register", register_page, methods=["GET"], name="register"),
    Route("/register", submit_request, methods=["POST"], name="register_submit"),
    Route("/register/sent", sent_page, methods=["GET"], name="register_sent"),
    Route("/register/organization", organization_page, methods=["GET"], name="register_organization"),
    Route("/register/organization", submit_organization, methods=["POST"], name="register_organization_submit"),
    Route("/register/organization/sent", organization_sent_page, methods=["GET"], name="register_organization_sent"),
]
