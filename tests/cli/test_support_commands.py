"""Support's commands beside its pages: `bridge org edit/import`, `bridge client secret/redirect-uris`,
`bridge audit` with the viewer's filters, each administrator in their subtree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from bridge.config import Settings
from bridge.services.clients import client_secret_digest, get_client
from tests.services.directory import build_directory


def run_json(bridge_cli: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = bridge_cli("--json", *argv)
    return code, json.loads(out)


def test_org_import_checks_then_keeps_all_or_nothing(
    bridge_cli: Any, db_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = build_directory(db_factory)
    table = tmp_path / "schools.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Название", "Вид", "Вышестоящая"])
    sheet.append(["Школа № 501", "школа", directory.orgs["dept_a"]])
    sheet.append(["Школа № 502", "школа", 999999])
    workbook.save(table)
    code, report = run_json(bridge_cli, "org", "import", str(table))
    assert code == 1 and not report["kept"]
    assert [(row["line"], row["error"]) for row in report["rows"]] == [(2, None), (3, "unknown_organization")]
    code, text, _ = bridge_cli("org", "import", str(table), "--dry-run")
    assert code == 1 and "Строка 3" in text and "Ничего не добавлено" in text

    sheet.delete_rows(3)
    workbook.save(table)
    code, report = run_json(bridge_cli, "org", "import", str(table), "--dry-run")
    assert code == 0 and not report["kept"]
    code, report = run_json(bridge_cli, "org", "import", str(table))
    assert code == 0 and report["kept"]
    code, listed = run_json(bridge_cli, "org", "list", "--parent", str(directory.orgs["dept_a"]))
    assert "Школа № 501" in [org["name"] for org in listed["organizations"]]
    # A department may not import, through this command or any other.
    code, refused = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "org", "import", str(table))
    assert code == 1 and refused["error"] == "support_only"


def test_org_edit_changes_only_what_is_given(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    school = directory.orgs["school_a2"]
    code, edited = run_json(bridge_cli, "org", "edit", str(school), "--name", "Школа № 2 имени Гагарина",
                            "--registry-status", "excluded")
    organization = edited["organization"]
    assert code == 0 and organization["name"] == "Школа № 2 имени Гагарина"
    assert (organization["registry_status"], organization["parent_id"]) == ("excluded", directory.orgs["dept_a"])
    code, refused = run_json(bridge_cli, "org", "edit", str(school), "--parent", str(school))
    assert code == 1 and refused["error"] == "invalid_parent"


def test_client_secret_and_redirect_uris(
    bridge_cli: Any, db_factory: sessionmaker[Session], settings: Settings
) -> None:
    code, added = run_json(bridge_cli, "client", "add", "--name", "Журнал", "--redirect-uri", "https://j.example.ru/cb")
    client_id, first = added["client"]["client_id"], added["client_secret"]
    code, renewed = run_json(bridge_cli, "client", "secret", client_id)
    assert code == 0 and renewed["client_secret"] != first
    with db_factory() as db:
        assert get_client(db, client_id).secret_hash == client_secret_digest(settings.secret_key,
                                                                              renewed["client_secret"])
    code, changed = run_json(bridge_cli, "client", "redirect-uris", client_id, "--redirect-uri",
                             "https://j.example.ru/new")
    assert code == 0 and changed["client"]["redirect_uris"] == ["https://j.example.ru/new"]
    code, refused = run_json(bridge_cli, "client", "redirect-uris", client_id, "--redirect-uri", "https://j.example.ru/#x")
    assert code == 1 and refused["error"] == "bad_redirect_uri"


def test_audit_filters_in_the_readers_subtree(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    assert bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "unlock", director)[0] == 0
    code, seen = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "audit", "--subject", director)
    assert code == 0 and [event["event"] for event in seen["events"]] == ["throttle.unlocked"]
    code, unseen = run_json(bridge_cli, "--acting-as", directory.logins["preschool"], "audit", "--subject", director)
    assert code == 0 and unseen["events"] == []
    code, refused = run_json(bridge_cli, "--acting-as", directory.logins["deputy_a"], "audit")
    assert code == 1 and refused["error"] == "role_issues_nothing"
    code, out, err = bridge_cli("--acting-as", directory.logins["dept_a"], "audit", "export", "--subject", director,
                                "--format", "csv")
    assert code == 0 and out.count("throttle.unlocked") == 1 and "Выгружено записей: 1" in err
