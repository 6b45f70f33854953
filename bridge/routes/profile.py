"""«Проверьте данные о месте работы»: the page the sign-in sends a person to after binding.

HTTP only: the person signed in here acts on their own data through bridge/application/staff_profile.py;
`next` (where the sign-in was going: the account, or the relying app's parked request) is kept
through the form and checked to be a local path. Saved, the page answers a parked request itself,
in the saving transaction (bridge/routes/relying_app_answer.py), as the endpoint at `next` would:
one request fewer for the browser, the request still taken once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bridge.application.principals import signed_in_person
from bridge.application.staff_profile import (
    ProfileChanges,
    SavedRoles,
    save_signed_in_profile,
    show_profile,
    show_signed_in_profile,
)
from bridge.blocking import run_blocking
from bridge.flows.signin import safe_next
from bridge.op.outcomes import Outcome
from bridge.routes.relying_app_answer import app_answer, as_response_to_post, provider_of
from bridge.services.actors import Actor
from bridge.services.errors import DomainError
from bridge.services.signin_sessions import ActiveSignIn, SessionTimeouts
from bridge.web.context import client_address, runtime_of, signed_in
from bridge.web.signin_cookie import read_signin_session_id
from bridge.web.templating import render
from bridge.web.urls import path_for

POSITION_FIELD = "position_"


def _next(request: Request, value: object) -> str:
    return safe_next(value if isinstance(value, str) else None, path_for(request, "account"))


def _person(request: Request, active: ActiveSignIn) -> Actor:
    return signed_in_person(active.staff.id, active.staff.login, address=client_address(request))


def _to_signin(request: Request) -> RedirectResponse:
    back_here = path_for(request, "login_profile")
    return RedirectResponse(path_for(request, "login", query={"next": back_here}), status_code=303)


def _unavailable(request: Request, refusal: DomainError) -> Response:
    return render(request, "error.html", {"title": "Данные недоступны", "message": refusal.message}, status_code=403)


def _changes(form: FormData) -> ProfileChanges:
    positions: dict[int, str] = {}
    for name, value in form.multi_items():
        suffix = name.removeprefix(POSITION_FIELD)
        if name.startswith(POSITION_FIELD) and suffix.isascii() and suffix.isdigit() and len(suffix) < 12:
            positions[int(suffix)] = str(value)
    phone = str(form.get("phone", ""))
    return ProfileChanges(positions=positions, email=str(form.get("email", "")), phone=phone or None)


def _signed_in_session(request: Request) -> str | None:
    return read_signin_session_id(request, runtime_of(request).settings)


async def profile_page(request: Request) -> Response:
    session_id = _signed_in_session(request)
    if session_id is None:
        return _to_signin(request)
    runtime = runtime_of(request)
    try:
        # The session checked and the data read in one transaction.
        shown = await run_blocking(
            show_signed_in_profile, runtime.db, session_id, SessionTimeouts.of(runtime.settings),
            address=client_address(request),
        )
    except DomainError as refusal:
        return _unavailable(request, refusal)
    if shown is None:
        return _to_signin(request)
    _, profile = shown
    return render(
        request,
        "signin/profile.html",
        {"profile": profile, "next": _next(request, request.query_params.get("next")), "error": None, "values": None},
    )


async def submit_profile(request: Request) -> Response:
    form = await request.form()
    session_id = _signed_in_session(request)
    if session_id is None:
        return _to_signin(request)
    runtime = runtime_of(request)
    next_url = _next(request, form.get("next"))
    answer = app_answer(request)
    changes = None if form.get("action") == "skip" else _changes(form)

    def then(db: Session, roles: SavedRoles) -> object:
        # Where the sign-in was going is the app's parked request: answered here, in this transaction
        # (with the person's roles as the save has just read them).
        return answer(db, session_id, next_url, roles)

    def save() -> object:
        provider_of(request).ready()
        # The session checked, the data saved and the app answered in one transaction.
        saved = save_signed_in_profile(
            runtime.db, session_id, SessionTimeouts.of(runtime.settings), changes,
            address=client_address(request), then=then,
        )
        return _NOT_SIGNED_IN if saved is None else saved[1].followed_by

    try:
        answered = await run_blocking(save)
    except DomainError as refusal:
        active = await signed_in(request)
        if active is None:
            return _to_signin(request)
        try:
            profile = await run_blocking(show_profile, runtime.db, _person(request, active), active.staff.login)
        except DomainError:
            return _unavailable(request, refusal)
        # Stay on the form, keeping what was typed.
        values = {name: str(value) for name, value in form.multi_items() if name != "csrf_token"}
        return render(
            request,
            "signin/profile.html",
            {"profile": profile, "next": next_url, "error": refusal.message, "values": values},
            status_code=400,
        )
    if answered is _NOT_SIGNED_IN:
        return _to_signin(request)
    if isinstance(answered, Outcome):
        return as_response_to_post(request, answered)
    return RedirectResponse(next_url, status_code=303)


# What `save` says when the cookie names no live session.
_NOT_SIGNED_IN = object()


routes: list[BaseRoute] = [
    Route("/login/profile", profile_page, methods=["GET"], name="login_profile"),
    Route("/login/profile", submit_profile, methods=["POST"], name="login_profile_save"),
]
