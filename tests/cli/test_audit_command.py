"""`bridge audit` (text view): a stored value can neither forge a line nor drive the terminal."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.audit import AuditContext, record
from tests.support.html_forms import read_forms

FORGED_LINE = "\n2026-01-01T00:00:00  signin.success         success  director"
ANSI_RED = "\x1b[31m"


def test_audit_text_escapes_newlines_and_terminal_escapes_in_every_field(
    bridge_cli: Any, client: TestClient, settings: Settings, db_factory: sessionmaker[Session]
) -> None:
    # A login typed at the first sign-in form: audited as signin.password_refused with that login.
    page = client.get("/login/first")
    [form] = [form for form in read_forms(page.text) if "password" in form.fields]
    typed_login = "ivanova" + FORGED_LINE + ANSI_RED + "\\n"
    refused = client.post("/login/first", data=form.submission(login=typed_login, password="wrong-password-1"))
    assert refused.status_code == 400

    # The actor and an app's redirect_uri, written by the audit service itself: no entry point
    # lets a person choose an actor today, and the view must not rely on either staying so.
    forged_uri = "https://app.test/cb" + FORGED_LINE + ANSI_RED + "\u202e\u2028"
    with db_factory() as db, db.begin():
        record(
            db, AuditContext("cli:support" + FORGED_LINE + ANSI_RED), "oidc.authorize.refused", "refused",
            client_id="app", redirect_uri=forged_uri, note="\r\t\x00",
        )

    code, out, _ = bridge_cli("audit", "--limit", "10")
    assert code == 0
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 2, out
    assert not any(ch in out for ch in ("\x1b", "\r", "\x00", "\u202e", "\u2028"))
    assert "signin.success" not in [line.split()[1] for line in lines]

    by_event = {line.split()[1]: line for line in lines}
    escaped_forgery = FORGED_LINE.replace("\n", "\\n") + "\\x1b[31m"
    assert "login=ivanova" + escaped_forgery + "\\\\n" in by_event["signin.password_refused"]
    refusal = by_event["oidc.authorize.refused"]
    assert refusal.split()[3] == "cli:support" + escaped_forgery.split()[0]
    assert "redirect_uri=https://app.test/cb" + escaped_forgery + "\\u202e\\u2028" in refusal
    assert "note=\\r\\t\\x00" in refusal
