"""Attacks on the top of the hierarchy off the staff form: `--acting-as` a support account at the
command line, a registration request asking for (or approved with) the support role, and the
public form naming technical support's organization. Only the operator issues support."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.services.actors import actor_for_login, cli_support_actor
from bridge.services.errors import DomainError
from bridge.services.registration_requests import RequestForm, submit_request
from bridge.services.request_decisions import approve
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import RegistrationRequest, RoleAssignment
from tests.services.directory import build_directory, row_counts
from tests.support.html_forms import read_forms


def _support_roles(db_factory: sessionmaker[Session]) -> int:
    with db_factory() as db:
        query = select(func.count()).select_from(RoleAssignment).where(RoleAssignment.role == Role.SUPPORT)
        return int(db.scalar(query) or 0)


def test_acting_as_support_the_cli_gives_no_support_role_by_add_role_or_an_approval(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    support_org = str(directory.orgs["support"])
    with transaction(db_factory) as db:
        filed = submit_request(
            db, RequestForm("Петрова", "Мария", "Ивановна", False, directory.orgs["school_a"], "Учитель",
                            "petrova@school.test", "employee"), "192.0.2.1",
        )
        assert filed is not None
        request_id = str(filed.id)
    before, supports = row_counts(db_factory), _support_roles(db_factory)
    acting = ("--json", "--acting-as", directory.logins["support_staff"])

    code, out, _ = bridge_cli(*acting, "staff", "add-role", directory.logins["dept_a"], "--org", support_org,
                              "--role", "support")
    assert (code, json.loads(out)["error"]) == (1, "role_not_permitted")
    # Neither support nor the operator approves a request with the support role: the command line
    # does not offer it, and below it the use case refuses it as no candidate of the request.
    with pytest.raises(SystemExit):
        bridge_cli(*acting, "requests", "approve", request_id, "--role", "support")
    for on_pages in (True, False):
        with pytest.raises(DomainError), transaction(db_factory) as db:
            actor = actor_for_login(db, directory.logins["support_staff"]) if on_pages else cli_support_actor()
            approve(db, actor, int(request_id), Role.SUPPORT.value)
    assert row_counts(db_factory) == before and _support_roles(db_factory) == supports
    with db_factory() as db:
        assert db.get(RegistrationRequest, int(request_id)).status == "pending"  # type: ignore[union-attr]


def test_the_public_form_files_no_request_in_technical_supports_organization(
    client: TestClient, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    page = client.get(f"/register?organization={directory.orgs['school_a']}")
    [form] = [form for form in read_forms(page.text) if form.method == "post"]
    for requested in ("employee", "head"):
        answer = client.post("/register", data={
            **form.fields, "surname": "Петрова", "name": "Мария", "patronymic": "Ивановна", "position": "Оператор",
            "email": "petrova@school.test", "requested": requested, "organization_id": str(directory.orgs["support"]),
        })
        assert answer.status_code == 400, (requested, answer.status_code)
    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(RegistrationRequest)) == 0
