"""`bridge requests …` and `bridge org requests …`: text and --json, refusals, never a link on the terminal."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.registration_requests import RequestForm, submit_request
from bridge.storage.database import transaction
from bridge.storage.models import OutgoingMail
from tests.services.directory import Directory, build_directory


def _file(
    db_factory: sessionmaker[Session], directory: Directory, surname: str = "Петрова",
    email: str = "petrova@school.test",
) -> int:
    with transaction(db_factory) as db:
        filed = submit_request(
            db, RequestForm(surname, "Мария", "Ивановна", False, directory.orgs["school_a"], "Учитель",
                            email, "employee"), "192.0.2.1",
        )
        assert filed is not None
        return filed.id


def test_a_director_lists_approves_rejects_and_resends(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    first, second = _file(db_factory, directory), _file(db_factory, directory, "Сидорова", "sidorova@school.test")
    director = ("--acting-as", directory.logins["director_a"])

    code, out, _ = bridge_cli(*director, "requests", "list")
    assert code == 0 and f"№{first}" in out and "Петрова Мария Ивановна" in out
    assert "social_pedagogue (Социальный педагог)" in out
    code, out, _ = bridge_cli("--json", *director, "requests", "list")
    listed = json.loads(out)["requests"]
    assert [request["id"] for request in listed] == [first, second]
    assert listed[0]["roles"] == ["school_deputy", "social_pedagogue", "responsible"]

    code, out, _ = bridge_cli(*director, "requests", "approve", str(first), "--role", "school_deputy")
    assert code == 0 and "одобрена" in out and "petrova@school.test" in out
    assert "token" not in out and "http" not in out
    code, out, err = bridge_cli(*director, "requests", "approve", str(first), "--role", "school_deputy")
    assert code == 1 and "уже принято решение" in err

    code, out, _ = bridge_cli("--json", *director, "requests", "reject", str(second), "--reason", "Не работает")
    assert code == 0 and json.loads(out)["rejected"]["email"] == "sidorova@school.test"

    code, out, _ = bridge_cli("--json", *director, "requests", "resend", "petrova")
    assert code == 0 and json.loads(out)["resent"]["login"] == "petrova"
    code, out, err = bridge_cli("--json", "--acting-as", directory.logins["college_director"],
                                "requests", "resend", "petrova")
    assert code == 1 and json.loads(out)["error"] == "staff_not_managed"

    code, out, _ = bridge_cli(*director, "requests", "list")
    assert "новых заявок нет" in out and "petrova" in out
    with db_factory() as db:
        kinds = [mail.kind for mail in db.scalars(select(OutgoingMail).order_by(OutgoingMail.id))]
    assert kinds == ["request_approved", "request_rejected", "activation_link"]


def test_the_approval_link_points_at_the_public_address(
    bridge_cli: Any, db_factory: sessionmaker[Session], monkeypatch: Any
) -> None:
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", "https://id.school.example")
    directory = build_directory(db_factory)
    request_id = _file(db_factory, directory)
    assert bridge_cli("--acting-as", directory.logins["director_a"], "requests", "approve", str(request_id),
                      "--role", "responsible")[0] == 0
    with db_factory() as db:
        letter = db.scalars(select(OutgoingMail)).one()
    assert "https://id.school.example/activate?token=" in letter.text_body
