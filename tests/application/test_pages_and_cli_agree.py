"""Every administrative permission rule gives the same answer on the pages and at the CLI.

Each case is run twice against the same directory: once by a signed-in administrator through
the pages, once by `bridge --acting-as <the same person> staff ...` (or `requests ...`). Both must allow or both
refuse, with the expected answer, and leave the same audit records (the refusal record exactly,
but for the address a browser has and a terminal has not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.registration_requests import RequestForm, submit_request
from bridge.services.roles import Role
from bridge.storage.models import AuditEvent, Organization, RegistrationRequest, StaffMember
from tests.services.directory import Directory, build_directory
from tests.support.browser import sign_in_browser
from tests.support.factories import give_role, make_staff
from tests.support.throttle import lock_out

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# People the cases act on, beside the administrators of the test directory. The twins are two
# deputies alike in everything, so an action the pages took does not change what the CLI finds.
PEOPLE = {
    # Holds a password already, so adding a role issues none (no check of authority over all roles).
    "twin_pages": ("school_a", Role.SCHOOL_DEPUTY),
    "twin_cli": ("school_a", Role.SCHOOL_DEPUTY),
    # A deputy in another district's school.
    "other_district": ("school_b", Role.SCHOOL_DEPUTY),
    # A deputy of two schools of the district: director A is above one of her roles only.
    "two_schools": ("school_a", Role.SCHOOL_DEPUTY),
}


@dataclass(frozen=True)
class Case:
    """One permission rule: who acts, on whom, and the answer both front ends must give."""

    actor: str
    operation: str
    # The person acted on, by key of `PEOPLE` or the directory's administrators; per front end
    # when the action must not see the other front end's effect.
    target: str | dict[str, str] = ""
    organization: str = "school_a"
    role: str = "school_deputy"
    # None: allowed; otherwise the refusal's code.
    refused: str | None = None


# Registration requests filed before each case, one per front end, so neither sees the other's decision.
REQUESTS = {
    "own_pages": ("school_a", "Страничная"),
    "own_cli": ("school_a", "Консольная"),
    "foreign_pages": ("school_b", "Страничная"),
    "foreign_cli": ("school_b", "Консольная"),
}
OWN_REQUEST = {"pages": "own_pages", "cli": "own_cli"}
FOREIGN_REQUEST = {"pages": "foreign_pages", "cli": "foreign_cli"}
# What differs between the twins' audit records although the same thing happened.
NUMBERED = frozenset({"request_id", "link_id"})

CASES = {
    "register in own school": Case("director_a", "register"),
    "register in another district's school": Case(
        "director_a", "register", organization="school_b", refused="outside_organization"
    ),
    "department registers outside its district": Case(
        "dept_a", "register", organization="school_b", role="school_director", refused="outside_district"
    ),
    "director registers a director": Case("director_a", "register", role="school_director",
                                          refused="role_not_permitted"),
    "add a role to own deputy": Case(
        "director_a", "add_role", {"pages": "twin_pages", "cli": "twin_cli"}, role="social_pedagogue"
    ),
    # The bug of issue 9: the CLI used to let this through.
    "add a role to another district's person": Case(
        "director_a", "add_role", "other_district", role="social_pedagogue", refused="staff_not_managed"
    ),
    "department adds a role outside its district": Case(
        "dept_a", "add_role", "director_a", organization="school_b", role="school_director",
        refused="outside_district",
    ),
    "reset a subordinate's password": Case("dept_a", "reset", "director_a"),
    "reset one's superior's password": Case("director_a", "reset", "dept_a", refused="staff_not_managed"),
    "reset without authority over every role": Case("director_a", "reset", "two_schools",
                                                    refused="staff_not_managed"),
    "unlock a subordinate": Case("dept_a", "unlock", "director_a"),
    "unlock someone of a neighbouring department": Case("preschool", "unlock", "director_a",
                                                        refused="staff_not_managed"),
    "show a subordinate's card": Case("director_a", "show", "twin_pages"),
    "show one's superior's card": Case("director_a", "show", "dept_a", refused="staff_not_managed"),
    "show an unknown person's card": Case("director_a", "show", "nobody", refused="unknown_staff"),
    "list a director's staff": Case("director_a", "list"),
    "list a department's staff": Case("dept_a", "list"),
    # «Заявки на подключение»: the request is the target, one per front end.
    "approve an employee's request in own school": Case("director_a", "approve", OWN_REQUEST,
                                                        role="social_pedagogue"),
    "approve a request of another district": Case("director_a", "approve", FOREIGN_REQUEST,
                                                  refused="unknown_request"),
    "department approves an employee's request": Case("dept_a", "approve", OWN_REQUEST,
                                                      refused="unknown_request"),
    "approve with a role that does not fit the request": Case("director_a", "approve", OWN_REQUEST,
                                                              role="school_director",
                                                              refused="role_not_for_request"),
    "reject a request of own school": Case("director_a", "reject", OWN_REQUEST),
    "reject a request of another district": Case("director_a", "reject", FOREIGN_REQUEST,
                                                 refused="unknown_request"),
    "resend a link to a subordinate": Case("director_a", "resend", {"pages": "twin_pages", "cli": "twin_cli"}),
    "resend a link to one's superior": Case("director_a", "resend", "dept_a", refused="staff_not_managed"),
}


@dataclass(frozen=True)
class Answer:
    refused: str | None
    # New audit records, as (event, outcome, actor, organization_id, details) without the address.
    audit: list[tuple[Any, ...]]
    # For a listing: the logins listed.
    listed: frozenset[str] = frozenset()


class World:
    def __init__(
        self, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette,
        bridge_cli: Callable[..., tuple[int, str, str]],
    ) -> None:
        self.client, self.settings, self.db_factory, self.app, self.bridge_cli = (
            client, settings, db_factory, app, bridge_cli
        )
        self.directory: Directory = build_directory(db_factory)
        self.logins = dict(self.directory.logins)
        with db_factory() as db, db.begin():
            for key, (school, role) in PEOPLE.items():
                person = make_staff(db, surname="Двойникова", login=key.replace("_", ""), password="Issued-1234")
                organization = db.get(Organization, self.directory.orgs[school])
                assert organization is not None
                give_role(db, person, organization, role)
                if key == "two_schools":
                    second = db.get(Organization, self.directory.orgs["school_a2"])
                    assert second is not None
                    give_role(db, person, second, role)
                # An address for «Выслать ссылку повторно».
                person.email = f"{key}@school.test"
                self.logins[key] = person.login
        self.logins["nobody"] = "nobody"
        with db_factory() as db, db.begin():
            for key, (school, surname) in REQUESTS.items():
                form = RequestForm(
                    surname=surname, name="Анна", patronymic=None, no_patronymic=True,
                    organization_id=self.directory.orgs[school], position="Учитель",
                    email=f"{key}@school.test", requested="employee",
                )
                filed = submit_request(db, form, f"192.0.2.{len(self.logins)}")
                assert filed is not None
                self.logins[key] = str(filed.id)

    def login_of(self, case: Case, front: str) -> str:
        target = case.target[front] if isinstance(case.target, dict) else case.target
        return self.logins[target] if target else ""

    def audit_since(self, last_id: int, *, login: str) -> list[tuple[Any, ...]]:
        with self.db_factory() as db:
            events = db.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)).all()
            # The person acted on is named alike, whichever twin (or new person) it was.
            return [
                (event.event, event.outcome, event.actor, event.organization_id,
                 {key: ("<person>" if value == login else "<number>" if key in NUMBERED else value)
                 for key, value in event.details.items()
                 if key not in ("expires_at", "counters_cleared", "start_date")})
                for event in events
            ]

    def last_audit_id(self) -> int:
        with self.db_factory() as db:
            return max(db.scalars(select(AuditEvent.id)).all(), default=0)

    # --- the pages ---------------------------------------------------------------------------

    def sign_in(self, key: str) -> None:
        self.client.cookies.clear()
        with self.db_factory() as db:
            staff = db.scalars(select(StaffMember).where(StaffMember.login == self.logins[key])).one()
            staff_id, role = staff.id, staff.roles[0]
            db.expunge_all()
        sign_in_browser(self.client, self.settings, self.db_factory, staff_id, role)

    def csrf(self) -> str:
        match = CSRF.search(self.client.get("/admin/staff/new").text)
        assert match is not None
        return match.group(1)

    def on_pages(self, case: Case, surname: str) -> Answer:
        self.sign_in(case.actor)
        login = self.login_of(case, "pages")
        before = self.last_audit_id()
        grant = {
            "organization_id": str(self.directory.orgs[case.organization]), "role": case.role,
            "start_date": "2024-09-01", "end_date": "",
        }
        allowed = {"register": 200, "add_role": 200, "reset": 200, "unlock": 303, "show": 200, "list": 200,
                   "approve": 303, "reject": 303, "resend": 303}
        if case.operation == "list":
            page = self.client.get("/admin/staff")
            listed = frozenset(re.findall(r'href="/admin/staff/([^"/]+)"', page.text)) - {"new"}
            return Answer(None, self.audit_since(before, login=login), listed)
        if case.operation == "show":
            response = self.client.get(f"/admin/staff/{login}")
        elif case.operation == "register":
            form = {**grant, "csrf_token": self.csrf(), "surname": surname, "name": "Пётр", "patronymic": "",
                    "no_patronymic": "1", "action": "save"}
            response = self.client.post("/admin/staff/new", data=form)
            login = _registered_login(response.text) or login
        elif case.operation in ("approve", "reject"):
            form = {"csrf_token": self.csrf(), "role": case.role, "reason": "Не работает у нас"}
            response = self.client.post(f"/admin/requests/{login}/{case.operation}", data=form,
                                        follow_redirects=False)
            login = self.approved_login(login) or login
        else:
            path = {"add_role": "roles", "reset": "reset-password", "unlock": "unlock",
                    "resend": "activation-link"}[case.operation]
            form = {"csrf_token": self.csrf(), **(grant if case.operation == "add_role" else {})}
            response = self.client.post(f"/admin/staff/{login}/{path}", data=form, follow_redirects=False)
        audit = self.audit_since(before, login=login)
        if response.status_code == allowed[case.operation]:
            return Answer(None, audit)
        assert response.status_code in (400, 403, 404), response.text
        if case.operation == "show":
            return Answer({403: "staff_not_managed", 404: "unknown_staff"}[response.status_code], audit)
        [refusal] = [record for record in audit if record[0] == "issuance.refused"]
        return Answer(refusal[4]["reason"], audit)

    def approved_login(self, request_id: str) -> str | None:
        """The login of the person an approval of this request registered (None while it waits)."""
        with self.db_factory() as db:
            request = db.get(RegistrationRequest, int(request_id))
            staff = db.get(StaffMember, request.staff_id) if request is not None and request.staff_id else None
            return staff.login if staff is not None else None

    # --- the CLI -----------------------------------------------------------------------------

    def at_cli(self, case: Case, surname: str) -> Answer:
        login = self.login_of(case, "cli")
        before = self.last_audit_id()
        acting = ("--json", "--acting-as", self.logins[case.actor], "staff")
        grant = ("--org", str(self.directory.orgs[case.organization]), "--role", case.role, "--start", "2024-09-01")
        argv: tuple[str, ...] = {
            "register": (*acting, "add", *grant, "--surname", surname, "--name", "Пётр", "--no-patronymic"),
            "add_role": (*acting, "add-role", login, *grant),
            "reset": (*acting, "reset-password", login),
            "unlock": (*acting, "unlock", login),
            "show": (*acting, "show", login),
            "list": (*acting, "list"),
            "approve": (*acting[:-1], "requests", "approve", login, "--role", case.role),
            "reject": (*acting[:-1], "requests", "reject", login, "--reason", "Не работает у нас"),
            "resend": (*acting[:-1], "requests", "resend", login),
        }[case.operation]
        code, out, _ = self.bridge_cli(*argv)
        data = json.loads(out)
        if code != 0:
            return Answer(data["error"], self.audit_since(before, login=login))
        if case.operation == "register":
            login = data["credential"]["login"]
        if case.operation == "approve":
            login = data["approved"]["login"]
        listed = frozenset(card["login"] for card in data["staff"]) if case.operation == "list" else frozenset()
        return Answer(None, self.audit_since(before, login=login), listed)


def _registered_login(html: str) -> str | None:
    match = re.search(r'id="issued-login">([^<]+)<', html)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", list(CASES))
def test_pages_and_cli_give_the_same_answer(
    name: str, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], app: Starlette,
    bridge_cli: Callable[..., tuple[int, str, str]],
) -> None:
    case = CASES[name]
    world = World(client, settings, db_factory, app, bridge_cli)
    if case.operation == "unlock":
        lock_out(app, world.login_of(case, "pages"))
    # Two new people of different names, so the second registration is not a duplicate of the first.
    pages = world.on_pages(case, surname="Страничный")
    cli = world.at_cli(case, surname="Консольный")

    assert pages.refused == cli.refused == case.refused
    assert pages.audit == cli.audit
    assert pages.listed == cli.listed
    if case.refused is None:
        assert all(record[1] == "success" for record in pages.audit)
    elif case.operation != "show":
        # A refused change leaves exactly one record: the refusal, whoever asked.
        [(event, outcome, actor, _, details)] = pages.audit
        assert (event, outcome, actor) == ("issuance.refused", "refused", world.logins[case.actor])
        assert details["reason"] == case.refused
