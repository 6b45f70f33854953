"""`bridge staff list` with filters and pages, `bridge staff export`, `bridge staff import [--dry-run]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.roles import Role
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, Organization, StaffMember
from tests.services.directory import VALID_SNILS, build_directory, row_counts
from tests.support.factories import give_role, make_staff


def test_the_list_filters_searches_and_pages_as_the_pages_do(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    with transaction(db_factory) as db:
        school = db.get(Organization, directory.orgs["school_a"])
        assert school is not None
        person = make_staff(db, surname="Семёнова", name="Ольга", login="semenova_o", snils=VALID_SNILS)
        give_role(db, person, school, Role.SCHOOL_DEPUTY)
    director = directory.logins["director_a"]
    code, out, _ = bridge_cli("--json", "--acting-as", director, "staff", "list", "--search", "112-233-445 95")
    assert code == 0
    assert [row["login"] for row in json.loads(out)["staff"]] == ["semenova_o"]
    code, out, _ = bridge_cli("--acting-as", director, "staff", "list", "--size", "25", "--page", "1")
    assert code == 0 and "Найдено: 2; страница 1 из 1." in out
    code, out, _ = bridge_cli("--json", "--acting-as", directory.logins["dept_a"], "staff", "list",
                              "--role", "school_director")
    assert [row["login"] for row in json.loads(out)["staff"]] == [director]
    code, _, err = bridge_cli("--acting-as", director, "staff", "list", "--org", str(directory.orgs["school_b"]))
    assert code != 0 and "не относится к вашим" in err


def test_export_and_import_through_the_cli(bridge_cli: Any, db_factory: sessionmaker[Session], tmp_path: Path) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    out_file = tmp_path / "staff.csv"
    code, out, _ = bridge_cli("--acting-as", director, "staff", "export", "--format", "csv", "--out", str(out_file))
    assert code == 0 and "Выгружено сотрудников: 1" in out
    assert out_file.read_bytes().decode("utf-8-sig").startswith("ФИО;Логин")

    school = directory.orgs["school_a"]
    sheet = tmp_path / "new.csv"
    sheet.write_text(
        f"Фамилия;Имя;Электронная почта;Организация;Роль\nГромов;Илья;gromov@example.org;{school};Завуч школы\n"
        f"Нет;Орг;;999999;Завуч школы\n",
        encoding="utf-8",
    )
    before = row_counts(db_factory)
    code, out, _ = bridge_cli("--acting-as", director, "staff", "import", str(sheet), "--dry-run")
    assert code == 1 and "строка 3" in out and "с ошибками: 1" in out
    code, _, err = bridge_cli("--acting-as", director, "staff", "import", str(sheet))
    assert code != 0 and "Ничего не загружено" in err
    assert row_counts(db_factory) == before
    sheet.write_text(f"Фамилия;Имя;Электронная почта;Организация;Роль\nГромов;Илья;gromov@example.org;{school};"
                     "Завуч школы\n", encoding="utf-8")
    code, out, _ = bridge_cli("--acting-as", director, "staff", "import", str(sheet))
    assert code == 0 and "Зарегистрировано сотрудников: 1; ссылка для активации отправлена: 1" in out
    with db_factory() as db:
        assert db.scalar(select(StaffMember.login).where(StaffMember.surname == "Громов")) is not None
        exported = list(db.scalars(select(AuditEvent).where(AuditEvent.event == "staff.exported")))
        assert exported[0].actor == director and exported[0].details["rows"] == 1
