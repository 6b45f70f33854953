"""«Журнал» speaks Russian: every event the bridge records has a title, refusals name the action,
every detail key the code records has a label, every reason code a title; an unknown code is shown as it
is; the CLI keeps the codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.activation_links import LinkState
from bridge.services.audit import AuditContext, record
from bridge.services.audit_titles import DETAIL_LABELS, EVENT_TITLES, OPERATION_TITLES, REASON_TITLES, reason_title
from bridge.services.authorization_codes import CodeState
from bridge.services.binding_alerts import AlertReason
from bridge.services.oauth_tokens import RefreshState
from bridge.storage.enums import DeactivationReason
from bridge.storage.models import AuditEvent, StaffMember
from tests.services.directory import build_directory
from tests.support.browser import sign_in_browser

BRIDGE = Path(__file__).resolve().parents[2] / "bridge"
CODE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECORD_TITLE = re.compile(r'<p class="record-title" data-event="([^"]+)">([^<]*)</p>')
LATIN = re.compile(r"[A-Za-z]")
# Named by an expression or a constant, not a literal: bridge/op/server.py, bridge/services/refusals.py.
COMPUTED_EVENTS = {
    "oidc.token.issued", "oidc.token.refreshed", "oidc.revocation.refused", "oidc.introspection.refused",
    "issuance.refused",
}


def _recorded_names() -> tuple[set[str], set[str]]:
    """(events, refused operations) named as literals anywhere in the bridge's code."""
    events, operations = set(COMPUTED_EVENTS), set()
    for path in BRIDGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            third = node.args[2] if len(node.args) >= 3 else None
            literal = third.value if isinstance(third, ast.Constant) and isinstance(third.value, str) else None
            if called in ("record", "record_independently") and literal:
                events.add(literal)
            if called in ("unit_of_work", "audited_refusals", "record_refusal") and literal:
                operations.add(literal)
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "event" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    events.add(value.value)
    return {name for name in events if CODE.match(name)}, operations


# Calls whose keyword arguments become an audit record's details (besides the record's own columns).
DETAILED_CALLS = {"record", "record_independently", "record_refusal", "SignInRefused",
                  "DomainError", "NotFound", "PermissionDenied", "InvalidInput", "Conflict"}
NOT_DETAILS = {"subject_staff_id", "organization_id", "personal", "event", "retryable"}


def _detail_keys() -> set[str]:
    """Keyword names given as details to an audit record, or to an error a refusal's record copies."""
    keys: set[str] = set()
    for path in BRIDGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if called in DETAILED_CALLS:
                keys.update(keyword.arg for keyword in node.keywords if keyword.arg and keyword.arg not in NOT_DETAILS)
    return keys


def test_every_detail_key_the_bridge_records_has_a_russian_label() -> None:
    keys = _detail_keys()
    assert len(keys) > 60 and {"login", "reason", "backchannel_logout_uri"} <= keys
    assert sorted(keys - DETAIL_LABELS.keys()) == []


def test_every_event_and_refused_action_the_bridge_records_has_a_russian_title() -> None:
    events, operations = _recorded_names()
    assert len(events) > 60 and "signin.success" in events and "issuance.refused" in events
    assert sorted(events - EVENT_TITLES.keys()) == []
    assert sorted(operations - OPERATION_TITLES.keys()) == []
    for title in [*EVENT_TITLES.values(), *OPERATION_TITLES.values(), *DETAIL_LABELS.values()]:
        assert title and not LATIN.search(title), title


# Calls whose first positional argument is a refusal's code (`reason=error.code` copies it into the record);
# `__init__` is a DomainError subclass naming its fixed code (`super().__init__("throttled", …)`).
CODED_CALLS = {"DomainError", "NotFound", "PermissionDenied", "InvalidInput", "Conflict", "SignInRefused",
               "BindingRefused", "UpstreamError", "CredentialRefused", "__init__"}
# Reasons the code computes rather than names: a link's state (activation.refused), why an alert was
# mailed or an account switched off, a code's or refresh token's state at the token endpoint
# (bridge/op/grants.py: f"code_{state}", f"refresh_token_{state}"), and the OAuth error codes Authlib
# answers with (the `error` detail; the userinfo endpoint records them as its `reason`).
COMPUTED_REASONS = {
    *(state.value for state in LinkState if state is not LinkState.USABLE),
    *(reason.value for reason in AlertReason), *(reason.value for reason in DeactivationReason),
    *(f"code_{state.value}" for state in CodeState if state is not CodeState.VALID),
    *(f"refresh_token_{state.value}" for state in RefreshState if state is not RefreshState.VALID),
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "access_denied", "unsupported_response_type", "server_error", "temporarily_unavailable",
    "invalid_token", "insufficient_scope", "unsupported_token_type", "login_required", "consent_required",
    "interaction_required", "account_selection_required",
}


def _literals(node: ast.expr) -> set[str]:
    """The strings an argument may be: a literal, or either branch of `a if … else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    return set()


def _reason_codes() -> set[str]:
    """Codes named as literals for a `reason`: an error's code, a `reason=` keyword, a token endpoint's
    `refusal_reason`, a userinfo refusal's reason."""
    codes: set[str] = set()
    for path in BRIDGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(target, "attr", None) == "refusal_reason"
                                                    for target in node.targets):
                codes |= _literals(node.value)
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if called in CODED_CALLS and node.args:
                codes |= _literals(node.args[0])
            if called == "UserinfoRefusal" and len(node.args) >= 2:
                codes |= _literals(node.args[1])
            for keyword in node.keywords:
                if keyword.arg == "reason":
                    codes |= _literals(keyword.value)
    return codes


def test_every_reason_code_the_bridge_records_has_a_russian_title() -> None:
    codes = _reason_codes()
    assert len(codes) > 150 and {"outside_district", "too_many_starts", "code_reused", "blocked"} <= codes
    assert sorted((codes | COMPUTED_REASONS) - REASON_TITLES.keys()) == []
    for title in REASON_TITLES.values():
        assert title and not LATIN.search(title), title
    # The support desk's `login_required` (no account chosen) is not OAuth's.
    assert reason_title("login_required") == "требуется вход"
    assert reason_title("login_required", "issuance.refused") == "не выбрана учётная запись"
    assert reason_title("Не тот район") == "Не тот район"  # a reason typed by a person stays as typed


def _sign_in(client: TestClient, settings: Settings, db_factory: sessionmaker[Session], login: str) -> None:
    client.cookies.clear()
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        role = staff.roles[0]
        db.expunge_all()
    sign_in_browser(client, settings, db_factory, staff.id, role)


def _titles_on_pages(client: TestClient, **params: str) -> dict[str, str]:
    shown: dict[str, str] = {}
    for page in (1, 2, 3):
        html = client.get("/admin/audit", params={**params, "page": str(page)}).text
        shown.update({code: title.strip() for code, title in RECORD_TITLE.findall(html)})
    return shown


def test_the_audit_page_titles_every_record_and_labels_its_details(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    # What a district's day leaves: an unlock through the pages …
    _sign_in(client, settings, db_factory, directory.logins["dept_a"])
    match = CSRF.search(client.get("/admin/staff/new").text)
    assert match is not None
    assert client.post(f"/admin/staff/{director}/unlock", data={"csrf_token": match.group(1)},
                       follow_redirects=False).status_code == 303
    # … and every other event the bridge can record (a sign-in's among them), and one it cannot name.
    events, _ = _recorded_names()
    with db_factory() as db, db.begin():
        for event in sorted(events):
            refusal = {"operation": "credential.reset"} if event == "issuance.refused" else {}
            record(db, AuditContext(actor="journal-check"), event, "success", login=director, role="school_director",
                   **refusal)
        record(db, AuditContext(actor="journal-check"), "future.event", "success")
    with db_factory() as db:
        written = set(db.scalars(select(AuditEvent.event)))
    _sign_in(client, settings, db_factory, directory.logins["support_staff"])
    shown = _titles_on_pages(client)
    shown.update(_titles_on_pages(client, actor="journal-check"))
    assert written - {"future.event"} <= shown.keys()
    for code, title in shown.items():
        if code == "future.event":
            assert title == "future.event"  # unknown: the code, not nothing
        else:
            assert title != code and not LATIN.search(title), (code, title)
    assert shown["throttle.unlocked"] == "Блокировка входа по паролю снята"
    assert shown["signin.success"] == "Вход выполнен"
    page = client.get("/admin/audit", params={"actor": "journal-check", "event": "signin.success"}).text
    assert "<dt>Логин</dt>" in page and "<dt>Роль</dt>" in page
    refused = client.get("/admin/audit", params={"actor": "journal-check", "event": "issuance.refused"}).text
    assert "Отказ в действии администратора: сброс пароля" in refused
    assert "<dt>Действие</dt>" in refused and ">сброс пароля</dd>" in refused


def test_the_audit_page_shows_a_refusals_reason_in_russian_and_an_unknown_one_as_its_code(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    with db_factory() as db, db.begin():
        context = AuditContext(actor="reason-check")
        record(db, context, "issuance.refused", "refused", operation="role.add", reason="outside_district",
               login=director)
        record(db, context, "activation.refused", "refused", reason="too_many_starts", login=director)
        record(db, context, "oidc.token.refused", "refused", error="invalid_grant", reason="code_reused")
        record(db, context, "signin.refused", "refused", reason="future_reason", login=director)
    _sign_in(client, settings, db_factory, directory.logins["support_staff"])
    page = client.get("/admin/audit", params={"actor": "reason-check"}).text
    assert "<dt>Причина</dt><dd>организация вне вашего района</dd>" in page
    assert "<dd>слишком много попыток по ссылке</dd>" in page
    assert "<dt>Ошибка</dt><dd>код или токен не принят</dd>" in page and "<dd>код входа уже использован</dd>" in page
    for code in ("outside_district", "too_many_starts", "invalid_grant", "code_reused"):
        assert code not in page, code
    assert '<dd class="code">future_reason</dd>' in page  # unknown: the code, not nothing
