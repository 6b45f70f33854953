"""`bridge staff edit|end-role|role-dates|block|unblock|deactivate|unbind|end-sessions`, text and --json."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.moscow_time import moscow_today
from bridge.storage.database import transaction
from bridge.storage.models import ExternalBinding, StaffMember
from tests.services.directory import build_directory


def run_json(bridge_cli: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = bridge_cli("--json", *argv)
    return code, json.loads(out)


def test_edit_changes_only_the_fields_given(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    code, out, _ = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "edit", director,
                              "--phone", "8 916 123 45 67", "--patronymic", "Сергеевна")
    assert code == 0 and "изменено: patronymic, phone" in out
    code, shown = run_json(bridge_cli, "staff", "show", director)
    assert (shown["staff"]["surname"], shown["staff"]["patronymic"]) == ("Админов4", "Сергеевна")
    assert shown["staff"]["phone"] == "+79161234567"  # JSON keeps E.164
    code, out, _ = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "edit", director,
                              "--no-patronymic", "--phone", "")
    assert code == 0
    code, out, _ = bridge_cli("staff", "show", director)
    assert "ФИО:      Админов4 Админ (без отчества)" in out and "Телефон:  —" in out
    code, out, _ = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "edit", director)
    assert code == 0 and "Изменений нет" in out
    # Technical support is above no director's role: the rule of a reset.
    code, refused = run_json(bridge_cli, "staff", "edit", director, "--surname", "Другая")
    assert code == 1 and refused["error"] == "staff_not_managed"
    code, refused = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "staff", "edit", director,
                             "--email", "не почта")
    assert code == 1 and refused["error"] == "invalid_email"


def test_end_role_and_role_dates_by_the_role_id_the_card_shows(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    deputy, director = directory.logins["deputy_a"], directory.logins["director_a"]
    code, out, _ = bridge_cli("staff", "show", deputy)
    role_id = out.split("[роль ")[1].split("]")[0]
    code, ended = run_json(bridge_cli, "--acting-as", director, "staff", "end-role", deputy, role_id)
    assert code == 0 and ended["role"]["end_date"] == moscow_today().isoformat() and ended["changed"]
    code, out, _ = bridge_cli("--acting-as", director, "staff", "role-dates", deputy, role_id,
                              "--start", "2024-09-01", "--end", "2025-08-31")
    assert code == 0 and "с 01.09.2024 по 31.08.2025" in out
    code, out, _ = bridge_cli("--acting-as", director, "staff", "role-dates", deputy, role_id,
                              "--start", "2024-09-01", "--no-end")
    assert code == 0 and "без конечной даты" in out
    # The department does not issue a deputy's role.
    code, refused = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "staff", "end-role", deputy,
                             role_id)
    assert code == 1 and refused["error"] == "staff_not_managed"
    code, out, err = bridge_cli("--acting-as", director, "staff", "role-dates", deputy, role_id,
                                "--start", "2025-01-01", "--end", "2024-01-01")
    assert code == 1 and "раньше начальной" in err


def test_block_unblock_deactivate_say_what_happened(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    dept, director = directory.logins["dept_a"], directory.logins["director_a"]
    code, out, _ = bridge_cli("--acting-as", dept, "staff", "block", director, "--reason", "Проверка\x1b[31m")
    assert code == 0 and "Учётная запись заблокирована" in out and "Сеансов завершено: 0" in out
    code, out, _ = bridge_cli("staff", "show", director)
    # A stored reason cannot recolour the terminal.
    assert "Состояние: заблокирован" in out and "Проверка\\x1b[31m" in out and "\x1b" not in out
    code, out, _ = bridge_cli("--acting-as", dept, "staff", "unblock", director)
    assert code == 0 and "разблокирована" in out
    code, refused = run_json(bridge_cli, "--acting-as", dept, "staff", "unblock", director)
    assert code == 1 and refused["error"] == "not_blocked"

    code, deactivated = run_json(bridge_cli, "--acting-as", dept, "staff", "deactivate", director, "--reason", "left")
    assert code == 0 and deactivated["staff"]["status"] == "deactivated"
    assert date.fromisoformat(deactivated["personal_data_removal_due"][:10]) > date.today()
    code, out, _ = bridge_cli("staff", "show", director)
    assert "Состояние: кабинет отключён" in out and "сотрудник уволился" in out
    code, refused = run_json(bridge_cli, "--acting-as", dept, "staff", "reset-password", director)
    assert code == 1 and refused["error"] == "staff_deactivated"
    with pytest.raises(SystemExit) as exited:
        bridge_cli("staff", "deactivate", director, "--reason", "fired")
    assert exited.value.code == 2


def test_unbind_and_end_sessions(bridge_cli: Any, db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    with transaction(db_factory) as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == director)).one()
        db.add(ExternalBinding(staff_id=staff.id, provider="rsaa", issuer="https://rsaa.test", subject="1",
                               flow="external_first"))
    code, out, _ = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "unbind", director, "rsaa")
    assert code == 0 and "Привязка к «rsaa» удалена" in out
    code, refused = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "staff", "unbind", director,
                             "rsaa")
    assert code == 1 and refused["error"] == "unknown_binding"
    code, ended = run_json(bridge_cli, "--acting-as", directory.logins["dept_a"], "staff", "end-sessions", director)
    assert code == 0 and ended["sessions"] == {"sessions_ended": 0, "tokens_revoked": 0}
    code, refused = run_json(bridge_cli, "--acting-as", director, "staff", "end-sessions", directory.logins["dept_a"])
    assert code == 1 and refused["error"] == "staff_not_managed"


def test_the_audit_log_shows_old_and_new_while_they_are_kept(
    bridge_cli: Any, db_factory: sessionmaker[Session]
) -> None:
    directory = build_directory(db_factory)
    director = directory.logins["director_a"]
    code, _, _ = bridge_cli("--acting-as", directory.logins["dept_a"], "staff", "edit", director, "--surname", "Иная")
    assert code == 0
    code, out, _ = bridge_cli("audit", "--event", "staff.edited")
    assert "changed=[\"surname\"]" in out
    assert 'personal.surname={"new": "Иная", "old": "Админов4"}' in out
