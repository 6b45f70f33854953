"""Attacks on the returning sign-in's unit of work as it now stands: the bound person and roles
read as columns, the session opened by a Core INSERT and decided on as written (grantees.opened_signin),
the round trip taken on a plain connection. Each case goes through the real callback and, where a
code is issued, the token and userinfo endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

import bridge.application.signin as signin_module
from bridge.services.binding import find_bound_person
from bridge.services.roles import Role
from bridge.storage.enums import RegistryStatus, StaffStatus
from bridge.storage.models import ExternalBinding, Organization, RoleAssignment, SignInSession, StaffMember
from bridge.storage.types import utcnow
from tests.e2e.test_callback_answers_app_attacks import (
    APP,
    CLIENT_ID,
    KUZNETSOV,
    SIGNIN_COOKIE,
    _app,
    answered_app,
    bound,
    callback_for,
    codes,
    delivered,
    register_app,
)
from tests.e2e.world import BRIDGE, World, choose_provider, enter_password, sign_in_at_provider
from tests.support.factories import give_role, make_organization

pytestmark = pytest.mark.anyio

VERIFIER = "v" * 48
PERSON = {"surname": "Кузнецов", "name": "Андрей", "patronymic": "Николаевич"}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def _redeem(browser: httpx.AsyncClient, secret: str, code: str) -> httpx.Response:
    return await browser.post(
        f"{BRIDGE}/oidc/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP}/callback",
              "code_verifier": VERIFIER},
        auth=(CLIENT_ID, secret),
    )


def _staff_id(world: World, login: str) -> int:
    with world.db() as db:
        return db.scalars(select(StaffMember.id).where(StaffMember.login == login)).one()


def _sessions(world: World, login: str) -> int:
    with world.db() as db:
        return len(db.scalars(select(SignInSession.id).where(SignInSession.staff_id == _staff_id(world, login))).all())


def _change_after_the_read(monkeypatch: pytest.MonkeyPatch, world: World, change: Callable[[Session], None]) -> None:
    """Runs `change` in its own committed transaction right after the callback's transaction has
    read the bound person: a block, a role's end or a reset landing concurrently with the callback."""
    original = find_bound_person

    def read_then_change(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        with world.db() as db, db.begin():
            change(db)
        return found

    monkeypatch.setattr(signin_module, "find_bound_person", read_then_change)


async def test_a_deactivated_person_gets_no_session_and_the_app_no_code(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = await bound(world, browser, KUZNETSOV, **PERSON)
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        with world.db() as db, db.begin():
            db.execute(update(StaffMember).where(StaffMember.login == login).values(status=StaffStatus.DEACTIVATED))
        answer = await delivered(browser, callback)
        assert answer.status_code == 400 and "location" not in answer.headers
        assert not any(cookie.name == SIGNIN_COOKIE for cookie in browser.cookies.jar)
    assert codes(world) == issued


async def test_a_person_unbound_while_upstream_is_not_signed_in_as_anyone(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = await bound(world, browser, KUZNETSOV, **PERSON)
        callback = await callback_for(browser, KUZNETSOV)
        issued, sessions = codes(world), _sessions(world, login)
        with world.db() as db, db.begin():
            db.execute(delete(ExternalBinding).where(ExternalBinding.staff_id == _staff_id(world, login)))
        answer = await delivered(browser, callback)
        assert not answer.headers.get("location", "").startswith(f"{APP}/callback")
    assert codes(world) == issued and _sessions(world, login) == sessions


async def test_the_app_is_told_only_the_current_role_whatever_else_the_person_holds(world: World) -> None:
    """Roles ended yesterday or starting tomorrow are not current; the current role in an
    organization excluded from the registry since is what a fresh read gives too."""
    secret = register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = await bound(world, browser, KUZNETSOV, **PERSON)
        today = utcnow().date()
        with world.db() as db, db.begin():
            staff = db.get(StaffMember, _staff_id(world, login))
            assert staff is not None
            [current] = staff.roles
            give_role(db, staff, make_organization(db), Role.SCHOOL_DEPUTY, start=today - timedelta(days=30),
                      end=today - timedelta(days=1))
            give_role(db, staff, make_organization(db), Role.SCHOOL_DEPUTY, start=today + timedelta(days=1))
            db.execute(update(Organization).where(Organization.id == current.organization_id)
                       .values(registry_status=RegistryStatus.EXCLUDED))
            current_id, organization_id = current.id, current.organization_id
        answer = await delivered(browser, await callback_for(browser, KUZNETSOV, verifier=VERIFIER))
        token = await _redeem(browser, secret, answered_app(answer)["code"][0])
        assert token.status_code == 200, token.text
        tokens = token.json()
        userinfo = (await browser.get(
            f"{BRIDGE}/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )).json()
    for claims in (_claims(tokens["id_token"]), userinfo):
        assert claims["role"]["code"] == Role.SCHOOL_DIRECTOR.value, claims
        assert claims["organization"]["id"] == organization_id, claims
        assert [role["organization"]["id"] for role in claims["roles"]] == [organization_id], claims
    assert _claims(tokens["id_token"]).get("rid", current_id) == current_id


@pytest.mark.parametrize("change", ["blocked", "generation", "role_ended"])
async def test_a_change_landing_during_the_callback_reaches_the_app_at_its_token_request(
    world: World, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Between the callback's read of the person and its commit, the person is blocked, their
    sessions all end (a new generation) or their only role ends. The callback decided on what it
    read; the code it may have issued is worth nothing: the token endpoint reads afresh."""
    secret = register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        login = await bound(world, browser, KUZNETSOV, **PERSON)
        staff_id = _staff_id(world, login)
        yesterday = utcnow().date() - timedelta(days=1)

        def concurrent(db: Session) -> None:
            if change == "blocked":
                db.execute(update(StaffMember).where(StaffMember.id == staff_id).values(status=StaffStatus.BLOCKED))
            elif change == "generation":
                db.execute(update(StaffMember).where(StaffMember.id == staff_id)
                           .values(session_generation=StaffMember.session_generation + 1))
            else:
                db.execute(update(RoleAssignment).where(RoleAssignment.staff_id == staff_id)
                           .values(start_date=yesterday - timedelta(days=1), end_date=yesterday))

        callback = await callback_for(browser, KUZNETSOV, verifier=VERIFIER)
        _change_after_the_read(monkeypatch, world, concurrent)
        answer = await delivered(browser, callback)
        location = answer.headers.get("location", "")
        if not location.startswith(f"{APP}/callback") or "code" not in answered_app(answer):
            return
        token = await _redeem(browser, secret, answered_app(answer)["code"][0])
    if change == "role_ended":
        # The person is still theirs to sign in; the ended role is told to nobody.
        assert token.status_code != 200 or "role" not in _claims(token.json()["id_token"]), token.text
    else:
        assert token.status_code == 400 and token.json()["error"] == "invalid_grant", token.text


async def test_the_same_callback_delivered_twice_at_once_answers_the_app_once(world: World) -> None:
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        await bound(world, browser, KUZNETSOV, **PERSON)
        callback = await callback_for(browser, KUZNETSOV)
        issued = codes(world)
        answers = await asyncio.gather(*(delivered(browser, callback) for _ in range(4)))
    answered = [answer for answer in answers if answer.headers.get("location", "").startswith(f"{APP}/callback")]
    assert len(answered) == 1, [(answer.status_code, answer.headers.get("location")) for answer in answers]
    assert codes(world) == issued + 1


async def test_a_parked_password_proof_never_binds_or_signs_in_through_someone_elses_identity(world: World) -> None:
    """Someone with an unbound account's password proves it, then comes back from the provider as
    an identity bound to another person: the proof is taken by the callback's look (not skipped
    by the plain take's note), the binding is refused, nobody is signed in, the binding stays."""
    register_app(world)
    async with world.browser(apps={APP: _app()}) as browser:
        owner = await bound(world, browser, KUZNETSOV, **PERSON)
    other = world.add_staff(surname="Смирнова", name="Елена", patronymic="Викторовна")
    before = world.bindings()
    async with world.browser() as intruder:
        choose = await enter_password(intruder, await intruder.get(f"{BRIDGE}/login/first"), other)
        assert choose.url.path == "/login/first/provider"
        answer = await sign_in_at_provider(intruder, await choose_provider(intruder, choose, "РСАА"), KUZNETSOV)
        assert answer.url.path != "/account" and "Смирнова" not in answer.text and "Кузнецов Андрей" not in answer.text
        assert not any(cookie.name == SIGNIN_COOKIE for cookie in intruder.cookies.jar)
    assert world.bindings() == before and [login for login, _, _ in before] == [owner]
    assert _sessions(world, other) == 0
