"""The `bridge` command end to end: organizations, staff, passwords, audit; text and --json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from bridge.cli.main import main
from bridge.services.credentials import check_issued_credential
from bridge.storage.database import transaction
from tests.services.directory import build_directory, row_counts
from tests.support.throttle import is_locked, lock_out


def run_json(bridge_cli: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = bridge_cli("--json", *argv)
    return code, json.loads(out)


def test_support_sets_up_a_district_and_its_department_head(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    code, created = run_json(
        bridge_cli, "org", "add", "--name", "УО Дзержинского района", "--kind", "education_department",
        "--district", "Дзержинский", "--inn", "7707083893", "--ogrn", "1027700132195",
    )
    assert code == 0
    department_id = created["organization"]["id"]
    code, school = run_json(bridge_cli, "org", "add", "--name", "Тестовая школа", "--kind", "school",
                            "--parent", str(department_id))
    assert code == 0
    assert school["organization"]["district"] == "Дзержинский"

    code, out, _ = bridge_cli(
        "staff", "add", "--org", str(department_id), "--role", "education_department",
        "--surname", "Новый", "--name", "Иван", "--no-patronymic",
    )
    assert code == 0
    assert "Логин:  novyi" in out
    assert "показывается один раз" in out
    password = out.split("Пароль: ")[1].split()[0]
    with transaction(db_factory) as db:
        assert check_issued_credential(db, "novyi", password).surname == "Новый"

    code, out, _ = bridge_cli("org", "list")
    assert "Тестовая школа" in out and "подчинена" in out

    # The department head issues the director of a school under it.
    code, issued = run_json(
        bridge_cli, "--acting-as", "novyi", "staff", "add", "--org", str(school["organization"]["id"]),
        "--role", "school_director", "--surname", "Щукина", "--name", "Анна", "--patronymic", "Ивановна",
        "--start", "2024-09-01", "--snils", "112-233-445 95",
    )
    assert code == 0
    assert issued["credential"]["login"] == "shchukina"
    assert issued["staff"]["roles"][0]["start_date"] == "2024-09-01"
    assert issued["staff"]["snils"] == "11223344595"

    # The card never shows a password, the reset gives a new one and the old one dies.
    code, out, _ = bridge_cli("staff", "show", "shchukina")
    assert code == 0
    assert "Директор школы" in out
    assert issued["credential"]["password"] not in out
    code, reset = run_json(bridge_cli, "--acting-as", "novyi", "staff", "reset-password", "shchukina")
    assert code == 0
    assert reset["credential"]["password"] != issued["credential"]["password"]
    with transaction(db_factory) as db:
        check_issued_credential(db, "shchukina", reset["credential"]["password"])

    code, audit = run_json(bridge_cli, "audit", "--login", "shchukina", "--event", "credential.")
    assert code == 0
    assert [event["event"] for event in audit["events"]] == [
        "credential.issued", "credential.reset", "credential.issued"
    ]
    assert all(issued["credential"]["password"] not in json.dumps(event) for event in audit["events"])


def test_the_operator_issues_technical_support_and_support_cannot_issue_its_own(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    """The top of the hierarchy starts at the server's command line; on behalf of a support
    account (`--acting-as`, as on the pages) the same request is refused and changes nothing."""
    directory = build_directory(db_factory)
    support_org = str(directory.orgs["support"])
    before = row_counts(db_factory)
    code, out, _ = bridge_cli("--json", "--acting-as", directory.logins["support_staff"], "staff", "add",
                              "--org", support_org, "--role", "support", "--surname", "Второй", "--name", "Оператор",
                              "--no-patronymic")
    assert (code, json.loads(out)["error"]) == (1, "role_not_permitted")
    assert row_counts(db_factory) == before
    code, issued = run_json(bridge_cli, "staff", "add", "--org", support_org, "--role", "support",
                            "--surname", "Белова", "--name", "Светлана", "--patronymic", "Николаевна")
    assert code == 0
    assert issued["staff"]["roles"][0]["role"] == "support"
    with transaction(db_factory) as db:
        assert check_issued_credential(db, issued["credential"]["login"], issued["credential"]["password"])


def test_refusals_are_json_errors_with_exit_1_and_change_nothing(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    before = row_counts(db_factory)
    cases = [
        (["--acting-as", directory.logins["dept_a"], "staff", "add", "--org", str(directory.orgs["school_b"]),
          "--role", "school_director", "--surname", "Чужой", "--name", "Директор", "--no-patronymic"],
         "outside_district"),
        (["--acting-as", directory.logins["director_a"], "staff", "add", "--org", str(directory.orgs["school_a"]),
          "--role", "school_director", "--surname", "Второй", "--name", "Директор", "--no-patronymic"],
         "role_not_permitted"),
        (["staff", "add", "--org", "999999", "--role", "education_department", "--surname", "Х", "--name", "Ы",
          "--no-patronymic"], "unknown_organization"),
        (["staff", "add", "--org", str(directory.orgs["dept_a"]), "--role", "education_department",
          "--surname", "Х", "--name", "Ы", "--no-patronymic", "--start", "2025-01-10", "--end", "2025-01-01"],
         "end_before_start"),
        (["staff", "add", "--org", str(directory.orgs["dept_a"]), "--role", "education_department",
          "--surname", " ", "--name", "Ы", "--no-patronymic"], "surname_required"),
        (["staff", "reset-password", "nobody"], "unknown_staff"),
        (["staff", "add-role", directory.logins["director_a"], "--org", str(directory.orgs["school_a"]),
          "--role", "school_director"], "role_not_permitted"),
        (["--acting-as", "ghost", "staff", "list"], "unknown_actor"),
        (["--acting-as", directory.logins["dept_a"], "org", "add", "--name", "Школа", "--kind", "school"],
         "support_only"),
        (["--acting-as", directory.logins["dept_a"], "client", "list"], "support_only"),
        (["--acting-as", directory.logins["dept_a"], "keys", "rotate"], "support_only"),
        (["org", "add", "--name", "Школа", "--kind", "school", "--inn", "1234567890"], "invalid_inn"),
    ]
    for argv, code in cases:
        exit_code, out, _ = bridge_cli("--json", *argv)
        error = json.loads(out)
        assert (exit_code, error["error"]) == (1, code), argv
        assert any("а" <= ch <= "я" for ch in error["message"].lower())
    assert row_counts(db_factory) == before
    _, audit = run_json(bridge_cli, "audit", "--event", "issuance.refused", "--limit", "100")
    reasons = {event["details"]["reason"] for event in audit["events"]}
    assert {"outside_district", "role_not_permitted", "unknown_organization", "end_before_start",
            "surname_required", "unknown_staff", "support_only", "invalid_inn"} <= reasons


def test_refusal_in_text_mode_goes_to_stderr_in_russian(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    build_directory(db_factory)
    code, out, err = bridge_cli("staff", "reset-password", "nobody")
    assert code == 1
    assert out == ""
    assert "Ошибка: Сотрудник с логином «nobody» не найден." in err


def test_usage_errors_exit_2(bridge_cli: Any) -> None:
    for argv in (
        ["staff", "add", "--org", "1", "--role", "janitor", "--surname", "Х", "--name", "Ы"],
        ["staff", "add", "--org", "1", "--role", "responsible", "--surname", "Х", "--name", "Ы",
         "--start", "01.09.2024"],
        ["staff", "add", "--org", "1", "--role", "responsible", "--surname", "Х", "--name", "Ы",
         "--patronymic", "Ю", "--no-patronymic"],
    ):
        with pytest.raises(SystemExit) as exited:
            bridge_cli(*argv)
        assert exited.value.code == 2


def test_missing_schema_asks_for_db_upgrade(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["--json", "staff", "list"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["error"] == "schema_missing"
    assert "bridge db upgrade" in error["message"]
    assert main(["org", "list"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_list_shows_only_the_staff_an_administrator_manages(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    code, listing = run_json(bridge_cli, "--acting-as", directory.logins["director_a"], "staff", "list")
    assert code == 0
    assert [card["login"] for card in listing["staff"]] == [directory.logins["deputy_a"]]
    code, listing = run_json(bridge_cli, "staff", "list", "--org", str(directory.orgs["school_a"]))
    assert {card["login"] for card in listing["staff"]} == {
        directory.logins["director_a"], directory.logins["deputy_a"]
    }
    code, _, err = bridge_cli("--acting-as", directory.logins["director_a"], "staff", "show",
                              directory.logins["dept_a"])
    assert code == 1
    assert "не относится к вашим подчинённым" in err


def test_add_role_prints_a_password_only_when_it_issues_the_first(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    code, added = run_json(
        bridge_cli, "--acting-as", directory.logins["director_a"], "staff", "add-role",
        directory.logins["deputy_a"], "--org", str(directory.orgs["school_a"]), "--role", "social_pedagogue",
    )
    assert code == 0
    # The deputy was made without a credential by the test directory: this addition issues the first.
    assert added["credential"]["login"] == directory.logins["deputy_a"]
    code, again = run_json(
        bridge_cli, "--acting-as", directory.logins["director_a"], "staff", "add-role",
        directory.logins["deputy_a"], "--org", str(directory.orgs["school_a"]), "--role", "responsible",
    )
    assert code == 0
    assert again["credential"] is None
    assert [role["role"] for role in again["staff"]["roles"]] == ["school_deputy", "social_pedagogue", "responsible"]


def test_unlock_lifts_a_strangers_lock_only_for_an_administrator_above_the_person(
    bridge_cli: Any, db_factory: sessionmaker[Session], app: Starlette
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    lock_out(app, director)

    # The director may not lift his own lock, nor may the preschool department beside his own.
    for outsider in ("director_a", "preschool"):
        code, refused = run_json(
            bridge_cli, "--acting-as", directory.logins[outsider], "staff", "unlock", director
        )
        assert code == 1 and refused["error"] == "staff_not_managed"
    assert is_locked(app, director)

    code, lifted = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "staff", "unlock", director)
    assert code == 0 and lifted["counters_cleared"] == 2 and lifted["staff"]["login"] == director
    assert not is_locked(app, director)
    # Text mode: the one guess since then made two counters again (the login, the login from there).
    code, out, err = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "unlock", director)
    assert code == 0, err
    assert "Блокировка входа по паролю снята" in out and "счётчиков неудачных попыток: 2" in out

    code, audit = run_json(bridge_cli, "audit", "--login", director, "--event", "throttle.")
    assert [(event["event"], event["actor"], event["details"]["counters_cleared"]) for event in audit["events"]] == [
        ("throttle.unlocked", directory.logins["dept_a"], 2)
    ] * 2
    code, refusals = run_json(bridge_cli, "audit", "--event", "issuance.refused")
    assert [(event["details"]["operation"], event["details"]["reason"]) for event in refusals["events"]] == [
        ("throttle.unlock", "staff_not_managed")
    ] * 2
    code, missing = run_json(bridge_cli, "staff", "unlock", "nobody")
    assert code == 1 and missing["error"] == "unknown_staff"
