"""Every administrative permission rule gives the same answer on the pages and at the CLI.

Each case is run twice against the same directory: once by a signed-in administrator through
the pages, once by `bridge --acting-as <the same person> staff ...` (or `requests ...`). Both must allow or both
refuse, with the expected answer, and leave the same audit records (the refusal record exactly,
but for the address a browser has and a terminal has not).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.audit import AuditContext, record
from bridge.services.registration_requests import RequestForm, submit_request
from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.enums import StaffStatus
from bridge.storage.models import AuditEvent, ExternalBinding, Organization, RegistrationRequest, StaffMember
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
    # Their own workplace data: filled in by the administrator, or the position still missing.
    "filled": ("school_a", Role.SCHOOL_DEPUTY),
    "unfilled": ("school_a", Role.SCHOOL_DEPUTY),
    # Director and deputy of school A: the department issues the first role, director A the second.
    "head_and_deputy": ("school_a", Role.SCHOOL_DEPUTY),
}
TODAY = date.today().isoformat()


TWINS = {"pages": "twin_pages", "cli": "twin_cli"}


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
NUMBERED = frozenset({"request_id", "link_id", "organization_id", "kid"})

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
    "skip one's own profile the administrator filled": Case("filled", "skip_profile", "filled"),
    "skip one's own profile with the position missing": Case(
        "unfilled", "skip_profile", "unfilled", refused="profile_incomplete"
    ),
    "confirm one's own profile as it stands": Case("filled", "complete_profile", "filled"),
    "confirm one's own profile with the position missing": Case(
        "unfilled", "complete_profile", "unfilled", refused="position_required"
    ),
    "list a department's staff": Case("dept_a", "list"),
    # Issue 11: the export of the list (audited; the organization filter only within the subtree).
    "export a school of one's district": Case("dept_a", "export", organization="school_a"),
    "export another district's school": Case(
        "dept_a", "export", organization="school_b", refused="organization_not_overseen"
    ),
    # Issue 10: editing, ending, blocking, deactivating.
    "edit a subordinate's card": Case("director_a", "edit", TWINS),
    "edit one's superior's card": Case("director_a", "edit", "dept_a", refused="staff_not_managed"),
    "edit without authority over every role": Case("director_a", "edit", "two_schools", refused="staff_not_managed"),
    "end a subordinate's role": Case("director_a", "end_role", TWINS),
    "end a role one does not issue": Case(
        "director_a", "end_role", "head_and_deputy", role="school_director", refused="role_not_managed"
    ),
    "end a role of another district's person": Case(
        "director_a", "end_role", "other_district", refused="staff_not_managed"
    ),
    "change a subordinate's role dates": Case("director_a", "role_dates", TWINS),
    "change the dates of a role one does not issue": Case(
        "director_a", "role_dates", "head_and_deputy", role="school_director", refused="role_not_managed"
    ),
    "block a subordinate": Case("director_a", "block", TWINS),
    "block one's superior": Case("director_a", "block", "dept_a", refused="staff_not_managed"),
    "block without authority over every role": Case("director_a", "block", "two_schools",
                                                    refused="staff_not_managed"),
    "unblock a subordinate": Case("director_a", "unblock", TWINS),
    "unblock someone not blocked": Case("dept_a", "unblock", "director_a", refused="not_blocked"),
    "deactivate a subordinate": Case("director_a", "deactivate", TWINS),
    "deactivate someone of a neighbouring department": Case("preschool", "deactivate", "director_a",
                                                            refused="staff_not_managed"),
    "unbind a subordinate's account": Case("director_a", "unbind", TWINS),
    "unbind without authority over every role": Case("director_a", "unbind", "two_schools",
                                                     refused="staff_not_managed"),
    "end a subordinate's sessions": Case("director_a", "end_sessions", TWINS),
    "end one's superior's sessions": Case("director_a", "end_sessions", "dept_a", refused="staff_not_managed"),
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
    # The twins are bound (the lifecycle cases unbind them): a link would bind nothing, both refuse.
    "resend a link to a bound subordinate": Case("director_a", "resend", {"pages": "twin_pages", "cli": "twin_cli"},
                                                 refused="already_bound"),
    "resend a link to one's superior": Case("director_a", "resend", "dept_a", refused="staff_not_managed"),
    # Issue 11: «Обращения в техническую службу» are support's alone.
    "support reads its queue": Case("support_staff", "support_list"),
    "a director reads support's queue": Case("director_a", "support_list", refused="support_only"),
    # Issue 11: support's work on the pages (the registry, keys) and the audit log's subtree.
    "support adds an organization": Case("support_staff", "add_org"),
    "a department adds an organization": Case("dept_a", "add_org", refused="support_only"),
    "support rotates the signing keys": Case("support_staff", "rotate_keys"),
    "a director rotates the signing keys": Case("director_a", "rotate_keys", refused="support_only"),
    "a department reads its audit log": Case("dept_a", "audit"),
    "a director reads her audit log": Case("director_a", "audit"),
    "support reads the whole audit log": Case("support_staff", "audit"),
    "a deputy reads no audit log": Case("deputy_a", "audit", refused="role_issues_nothing"),
}


@dataclass(frozen=True)
class Answer:
    refused: str | None
    # New audit records, as (event, outcome, actor, organization_id, details) without the address
    # and the HTTP request's id (a page's records have one, a command's none).
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
                assignment = give_role(db, person, organization, role)
                if key == "filled":
                    person.email, assignment.position = "filled@school.test", "заместитель директора по УВР"
                if key == "unfilled":
                    person.email = "unfilled@school.test"
                if key == "two_schools":
                    second = db.get(Organization, self.directory.orgs["school_a2"])
                    assert second is not None
                    give_role(db, person, second, role)
                if key == "head_and_deputy":
                    give_role(db, person, organization, Role.SCHOOL_DIRECTOR)
                if key.startswith("twin"):
                    # Something to unbind, the same for both.
                    db.add(ExternalBinding(staff_id=person.id, provider="esia", issuer="https://esia.test",
                                           subject=f"esia-{key}", flow="local_first"))
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
            known = set(self.directory.orgs.values())
            # An organization made by the case itself is named alike on both sides.
            return [
                (event.event, event.outcome, event.actor,
                 event.organization_id if event.organization_id in known | {None} else "<new>",
                 {key: ("<person>" if value == login else "<number>" if key in NUMBERED else value)
                  for key, value in event.details.items()
                  if key not in (
                      "expires_at", "counters_cleared", "start_date", "personal_data_removal_due", "request_id"
                  )})
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
        allowed = {"register": 200, "show": 200, "list": 200, "support_list": 200}
        if case.operation == "audit":
            page = self.client.get("/admin/audit", params={"event": "throttle."})
            if page.status_code == 403:
                return Answer("role_issues_nothing", self.audit_since(before, login=login))
            listed = frozenset(re.findall(r'<dt>Логин</dt><dd class="code">([^<]+)<', page.text))
            return Answer(None, self.audit_since(before, login=login), listed)
        if case.operation == "add_org":
            form = {"csrf_token": self.csrf(), "name": "Школа № 77", "kind": "school",
                    "parent_id": str(self.directory.orgs["dept_a"])}
            response = self.client.post("/support/organizations/new", data=form, follow_redirects=False)
            return self.page_answer(response, before, login)
        if case.operation == "rotate_keys":
            response = self.client.post("/support/keys/rotate", data={"csrf_token": self.csrf()},
                                        follow_redirects=False)
            return self.page_answer(response, before, login)
        if case.operation == "list":
            page = self.client.get("/admin/staff")
            listed = frozenset(re.findall(r'href="/admin/staff/([^"/]+)"', page.text)) - {"new"}
            return Answer(None, self.audit_since(before, login=login), listed)
        if case.operation in ("skip_profile", "complete_profile"):
            page = self.client.get("/login/profile")
            fields = dict(re.findall(r'name="(position_\d+|email|phone)"[^>]*value="([^"]*)"', page.text))
            token = CSRF.search(page.text)
            assert token is not None
            action = "skip" if case.operation == "skip_profile" else "save"
            form = {**fields, "csrf_token": token.group(1), "next": "/account", "action": action}
            response = self.client.post("/login/profile", data=form, follow_redirects=False)
            allowed[case.operation] = 303
        elif case.operation == "show":
            response = self.client.get(f"/admin/staff/{login}")
        elif case.operation == "support_list":
            response = self.client.get("/support/queue")
        elif case.operation == "export":
            form = {"csrf_token": self.csrf(), "format": "csv", "org": str(self.directory.orgs[case.organization])}
            response = self.client.post("/admin/staff-export", data=form)
            allowed["export"] = 200
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
            path, fields = self.card_action(case, login, grant)
            form = {"csrf_token": self.csrf(), **fields}
            response = self.client.post(f"/admin/staff/{login}/{path}", data=form, follow_redirects=False)
        audit = self.audit_since(before, login=login)
        if response.status_code == allowed.get(case.operation, 303):
            return Answer(None, audit)
        assert response.status_code in (400, 403, 404), response.text
        if case.operation == "show":
            return Answer({403: "staff_not_managed", 404: "unknown_staff"}[response.status_code], audit)
        [refusal] = [record for record in audit if record[0] == "issuance.refused"]
        return Answer(refusal[4]["reason"], audit)

    def page_answer(self, response: Any, before: int, login: str) -> Answer:
        """A support page's answer: 303 done, or 403 with the refusal audited."""
        audit = self.audit_since(before, login=login)
        if response.status_code == 303:
            return Answer(None, audit)
        assert response.status_code == 403, response.text
        [refusal] = [record for record in audit if record[0] == "issuance.refused"]
        return Answer(refusal[4]["reason"], audit)

    def email_of(self, login: str) -> str | None:
        with self.db_factory() as db:
            return db.scalars(select(StaffMember.email).where(StaffMember.login == login)).one_or_none()

    def card_action(self, case: Case, login: str, grant: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The path under the person's card and the form a page posts for `case.operation`."""
        role = self.role_id(login, case.role) if case.operation in ("end_role", "role_dates") else 0
        return {
            "add_role": ("roles", grant),
            "reset": ("reset-password", {}),
            "unlock": ("unlock", {}),
            # The page posts the whole card: what the edit does not change is sent as it is.
            "edit": ("edit", {"surname": "Правленая", "name": "Мария", "patronymic": "Петровна",
                              "email": self.email_of(login) or "", "phone": "", "note": ""}),
            "end_role": (f"roles/{role}/end", {"end_date": TODAY}),
            "role_dates": (f"roles/{role}/dates", {"start_date": "2024-09-01", "new_end_date": ""}),
            "block": ("block", {"reason": "Служебная проверка"}),
            "unblock": ("unblock", {}),
            "deactivate": ("deactivate", {"reason": "left"}),
            "unbind": ("bindings/esia/unbind", {}),
            "end_sessions": ("end-sessions", {}),
            "resend": ("activation-link", {}),
        }[case.operation]

    def role_id(self, login: str, role: str) -> int:
        with self.db_factory() as db:
            staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
            return next(assignment.id for assignment in staff.roles if assignment.role == role)
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
        role = str(self.role_id(login, case.role)) if case.operation in ("end_role", "role_dates") else ""
        argv: tuple[str, ...] = {
            "register": (*acting, "add", *grant, "--surname", surname, "--name", "Пётр", "--no-patronymic"),
            "add_role": (*acting, "add-role", login, *grant),
            "reset": (*acting, "reset-password", login),
            "unlock": (*acting, "unlock", login),
            "show": (*acting, "show", login),
            "list": (*acting, "list"),
            "export": (*acting, "export", "--org", str(self.directory.orgs[case.organization]), "--format", "csv",
                       "--out", os.devnull),
            "skip_profile": (*acting, "profile", login, "--skip"),
            "complete_profile": (*acting, "profile", login, "--confirm"),
            "edit": (*acting, "edit", login, "--surname", "Правленая"),
            "end_role": (*acting, "end-role", login, role, "--end", TODAY),
            "role_dates": (*acting, "role-dates", login, role, "--start", "2024-09-01", "--no-end"),
            "block": (*acting, "block", login, "--reason", "Служебная проверка"),
            "unblock": (*acting, "unblock", login),
            "deactivate": (*acting, "deactivate", login, "--reason", "left"),
            "unbind": (*acting, "unbind", login, "esia"),
            "end_sessions": (*acting, "end-sessions", login),
            "approve": (*acting[:-1], "requests", "approve", login, "--role", case.role),
            "reject": (*acting[:-1], "requests", "reject", login, "--reason", "Не работает у нас"),
            "resend": (*acting[:-1], "requests", "resend", login),
            "support_list": (*acting[:-1], "support", "list"),
            "add_org": (*acting[:-1], "org", "add", "--name", "Школа № 77", "--kind", "school",
                        "--parent", str(self.directory.orgs["dept_a"])),
            "rotate_keys": (*acting[:-1], "keys", "rotate"),
            "audit": (*acting[:-1], "audit", "--event", "throttle."),
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
        if case.operation == "audit":
            listed = frozenset(event["details"]["login"] for event in data["events"])
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
    if case.operation == "audit":
        # Records about a school A director (district A) and a district B deputy.
        assert bridge_cli("--acting-as", world.logins["dept_a"], "staff", "unlock", world.logins["director_a"])[0] == 0
        with transaction(db_factory) as db:
            other = db.scalars(select(StaffMember).where(StaffMember.login == world.logins["other_district"])).one()
            record(db, AuditContext(actor="cli:support"), "throttle.unlocked", "success", subject_staff_id=other.id,
                   login=other.login)
    if case.operation == "unblock" and case.refused is None:
        with transaction(db_factory) as db:
            db.execute(update(StaffMember).where(StaffMember.login.in_(["twinpages", "twincli"]))
                       .values(status=StaffStatus.BLOCKED))
    # Two new people of different names, so the second registration is not a duplicate of the first.
    pages = world.on_pages(case, surname="Страничный")
    cli = world.at_cli(case, surname="Консольный")

    assert pages.refused == cli.refused == case.refused
    assert pages.audit == cli.audit
    assert pages.listed == cli.listed
    if case.operation == "audit" and case.refused is None:
        # Each administrator's subtree: district A's records for its department and school, all for support.
        seen = {"support_staff": {"director_a", "other_district"}}.get(case.actor, {"director_a"})
        assert pages.listed == {world.logins[key] for key in seen}
    if case.refused is None:
        assert all(record[1] == "success" for record in pages.audit)
    elif case.operation not in ("show", "audit"):
        # A refused change leaves exactly one record: the refusal, whoever asked.
        [(event, outcome, actor, _, details)] = pages.audit
        assert (event, outcome, actor) == ("issuance.refused", "refused", world.logins[case.actor])
        assert details["reason"] == case.refused
