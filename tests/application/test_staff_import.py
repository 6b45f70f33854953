"""Bulk import of staff: every bad row reported, all rows or none written, the checked rows confirmed once."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.registration import ActivationLinks
from bridge.application.staff_import import ImportLimits, confirm_import, import_staff, prepare_import
from bridge.services import staff_import_writes
from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.flow_state import FlowKind
from bridge.services.identifiers import snils_checksum
from bridge.services.person_names import full_name
from bridge.storage.models import ActivationLink, AuthFlow, OutgoingMail, RoleAssignment, StaffMember
from tests.application.conftest import as_, audit
from tests.services.directory import VALID_SNILS, Directory, row_counts

LIMITS = ImportLimits(max_bytes=5 * 1024 * 1024, max_rows=10_000)
LINKS = ActivationLinks("https://bridge.example/activate")
HEADER = "Фамилия;Имя;Отчество;СНИЛС;Электронная почта;Телефон;Организация;Роль;Должность;Дата начала"


def _csv(*lines: str) -> bytes:
    return ("\ufeff" + "\r\n".join([HEADER, *lines]) + "\r\n").encode()


def _person_of(factory: sessionmaker[Session], login: str) -> StaffMember:
    with factory() as db:
        person = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        db.expunge(person)
        return person


def test_a_dry_run_reports_every_bad_row_and_writes_nothing(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    school, other = directory.orgs["school_a"], directory.orgs["school_a2"]
    deputy = _person_of(db_factory, directory.logins["deputy_a"])
    known = full_name(deputy.surname, deputy.name, deputy.patronymic).split()
    before = row_counts(db_factory)
    content = _csv(
        f"Петров;Пётр;Петрович;{VALID_SNILS};petrov@example.org;;{school};Завуч школы;учитель;01.09.2025",
        "Сидоров;Иван;;;;;999999;Завуч школы;;",
        f"Чужой;Иван;;;;;{other};Завуч школы;;",
        f"Неподходящий;Иван;;;;;{school};Заведующая ДОУ;;",
        f"Плохой;Снилс;;112-233-445 96;;;{school};Ответственный (школа, СПО);;",
        f"Плохая;Почта;;;not-an-email;;{school};Социальный педагог;;",
        f"петров;ПЁТР;Петрович;;;;{school};Завуч школы;;",
        f"{known[0]};{known[1]};{known[2] if len(known) > 2 else ''};;;;{school};Завуч школы;;",
        f"Космонавтов;Юрий;;;;;{school};Космонавт;;",
        f";Безфамильный;;;;;{school};Завуч школы;;",
        f"Двойник;Снилса;;{VALID_SNILS};;;{school};Завуч школы;;",
    )
    report = prepare_import(db_factory, as_(directory, "director_a"), "staff.csv", content, LIMITS)
    assert report.import_id is None
    by_line = {row.line: " ".join(row.errors) for row in report.rows}
    assert by_line[2] == ""
    assert "не найдена" in by_line[3]
    assert "только в своей организации" in by_line[4]
    assert "не бывает" in by_line[5] or "вышестоящий" in by_line[5]
    assert "СНИЛС указан неверно" in by_line[6]
    assert "почты" in by_line[7].lower()
    assert "строке 2 файла" in by_line[8]
    assert "уже есть" in by_line[9]
    assert "Роль «Космонавт» не найдена" in by_line[10]
    assert "фамилию" in by_line[11]
    assert "СНИЛС уже есть в строке 2" in by_line[12]
    assert [row.line for row in report.bad] == list(range(3, 13))
    assert row_counts(db_factory) == before


def test_an_import_of_5000_rows_with_bad_rows_reports_them_all_and_writes_nothing(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    school = directory.orgs["school_a"]
    bad_lines = {17, 2500, 4999}
    lines = [
        f"Учителев{number};Иван;;;;;{999999 if number + 2 in bad_lines else school};Ответственный (школа, СПО);;"
        for number in range(5000)
    ]
    content = _csv(*lines)
    director = as_(directory, "director_a")
    before = row_counts(db_factory)
    report = prepare_import(db_factory, director, "big.csv", content, LIMITS)
    assert len(report.rows) == 5000
    assert {row.line for row in report.bad} == bad_lines
    with pytest.raises(Conflict) as refused:
        import_staff(db_factory, director, "big.csv", content, LIMITS, LINKS)
    assert refused.value.details["bad_rows"] == 3
    assert "Ничего не загружено" in refused.value.message
    assert row_counts(db_factory) == before


def test_limits_are_told_in_plain_words(db_factory: sessionmaker[Session], directory: Directory) -> None:
    director = as_(directory, "director_a")
    small = ImportLimits(max_bytes=200, max_rows=2)
    with pytest.raises(InvalidInput) as too_big:
        prepare_import(db_factory, director, "a.csv", b"x" * 201, small)
    assert too_big.value.code == "import_too_big"
    school = directory.orgs["school_a"]
    many = _csv(*[f"А{n};Б;;;;;{school};Завуч школы;;" for n in range(3)])
    with pytest.raises(InvalidInput) as too_many:
        prepare_import(db_factory, director, "a.csv", many, ImportLimits(max_bytes=10_000, max_rows=2))
    assert too_many.value.code == "import_too_many_rows"
    with pytest.raises(InvalidInput) as wrong:
        prepare_import(db_factory, director, "a.txt", many, LIMITS)
    assert wrong.value.code == "import_format"
    with pytest.raises(InvalidInput) as headers:
        prepare_import(db_factory, director, "a.csv", "Имя;Фамилия\nА;Б\n".encode(), LIMITS)
    assert "«Организация»" in headers.value.message


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [["Фамилия", "Имя", "Отчество", "Электронная почта", "Организация", "Роль"], *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_checked_file_is_imported_once_for_the_administrator_and_browser_that_checked_it(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    school = directory.orgs["school_a"]
    content = _xlsx([
        ["Морозова", "Анна", "Игоревна", "morozova@example.org", school, "Завуч школы"],
        ["Лебедев", "Олег", None, None, school, "social_pedagogue"],
    ])
    director = as_(directory, "director_a")
    report = prepare_import(db_factory, director, "staff.xlsx", content, LIMITS, browser_id="browser-1")
    assert report.import_id is not None and not report.bad
    assert _person_count(db_factory) == len(directory.logins)
    with pytest.raises(NotFound):
        confirm_import(db_factory, director, "browser-2", report.import_id, LINKS)
    with pytest.raises(NotFound):
        confirm_import(db_factory, as_(directory, "dept_a"), "browser-1", report.import_id, LINKS)
    # The refused attempts took nothing (their transactions rolled back): the right one still works.
    done = confirm_import(db_factory, director, "browser-1", report.import_id, LINKS)
    assert done.registered == 2 and done.mailed == 1
    with pytest.raises(NotFound):
        confirm_import(db_factory, director, "browser-1", report.import_id, LINKS)
    with db_factory() as db:
        imported = list(db.scalars(select(StaffMember).where(StaffMember.login.in_(done.logins))))
        assert {person.surname for person in imported} == {"Морозова", "Лебедев"}
        assert all(person.password_hash is None for person in imported)
        letters = list(db.scalars(select(OutgoingMail)))
        assert [letter.recipient for letter in letters] == ["morozova@example.org"]
        assert "https://bridge.example/activate?token=" in letters[0].text_body
        assert db.scalar(select(AuthFlow.id).where(AuthFlow.kind == FlowKind.STAFF_IMPORT.value)) is None
    events = [event for event in audit(db_factory) if event.event == "staff.imported"]
    assert [(event.details["rows"], event.details["mailed"]) for event in events] == [(2, 1)]


def test_the_parked_rows_expire(db_factory: sessionmaker[Session], directory: Directory) -> None:
    school = directory.orgs["school_a"]
    director = as_(directory, "director_a")
    content = _csv(f"Новиков;Ян;;;;;{school};Завуч школы;;")
    report = prepare_import(db_factory, director, "a.csv", content, LIMITS, browser_id="browser-1")
    assert report.import_id is not None
    with db_factory() as db, db.begin():
        for row in db.scalars(select(AuthFlow)):
            row.expires_at = row.expires_at - timedelta(hours=1)
    with pytest.raises(NotFound):
        confirm_import(db_factory, director, "browser-1", report.import_id, LINKS)


def _person_count(factory: sessionmaker[Session]) -> int:
    with factory() as db:
        return len(list(db.scalars(select(StaffMember.id))))


def _snils(number: int) -> str:
    body = f"{300_000_000 + number:09d}"
    return body + f"{snils_checksum(body):02d}"


def test_a_good_file_registers_everyone_with_own_login_role_link_letter_and_audit_records(
    db_factory: sessionmaker[Session], directory: Directory
) -> None:
    """The bulk writes: what a one-by-one registration gives each person, each person gets."""
    school = directory.orgs["school_a"]
    with db_factory() as db, db.begin():
        db.add(StaffMember(surname="Иванов", name="Старый", patronymic=None, no_patronymic=True, login="ivanov"))
    # Forty «Иванов» (logins need suffixes past the one already taken), two «Петров» (only the file
    # itself takes «petrov»), every second person with an e-mail.
    surnames = ["Иванов"] * 40 + ["Петров"] * 2 + [f"Учителев{number}" for number in range(42, 60)]
    lines = [
        f"{surnames[number]};Иван{number};;{_snils(number)};"
        f"{f'teacher{number}@example.org' if number % 2 == 0 else ''};;{school};Ответственный (школа, СПО);;"
        for number in range(60)
    ]
    done = import_staff(db_factory, as_(directory, "director_a"), "staff.csv", _csv(*lines), LIMITS, LINKS)
    assert done.registered == 60 and done.mailed == 30
    assert len(set(done.logins)) == 60
    assert sorted(done.logins[:40]) == sorted(f"ivanov_{number}" for number in range(1, 41))
    assert sorted(done.logins[40:42]) == ["petrov", "petrov_1"]
    with db_factory() as db:
        people = {person.login: person for person in db.scalars(
            select(StaffMember).where(StaffMember.login.in_(done.logins)))}
        assert people["ivanov_1"].name == "Иван0" and people["ivanov_1"].snils == _snils(0)
        ids = {person.id for person in people.values()}
        roles = list(db.scalars(select(RoleAssignment).where(RoleAssignment.staff_id.in_(ids))))
        assert sorted(role.staff_id for role in roles) == sorted(ids)
        assert {(role.organization_id, role.role.value) for role in roles} == {(school, "responsible")}
        links = {link.staff_id: link.email for link in db.scalars(select(ActivationLink))}
        letters = list(db.scalars(select(OutgoingMail)))
        assert links == {person.id: person.email for person in people.values() if person.email}
        assert sorted(letter.staff_id or 0 for letter in letters) == sorted(links)
        for letter in letters:
            person = next(person for person in people.values() if person.id == letter.staff_id)
            assert letter.recipient == person.email
            assert person.login in letter.text_body and person.name in letter.text_body
            assert "https://bridge.example/activate?token=" in letter.text_body
    events = audit(db_factory)
    for name in ("staff.registered", "role.added"):
        assert sorted(event.subject_staff_id or 0 for event in events if event.event == name) == sorted(ids)
    assert [event.details["rows"] for event in events if event.event == "staff.imported"] == [60]


def test_a_login_taken_while_the_import_writes_refuses_every_row(
    db_factory: sessionmaker[Session], directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique index is the last word on logins: a clash rolls the whole import back."""
    school = directory.orgs["school_a"]
    taken = directory.logins["deputy_a"]
    real = staff_import_writes.unique_logins

    def racing(db: Session, surnames: list[str]) -> list[str]:
        return [*real(db, surnames)[:-1], taken]

    monkeypatch.setattr(staff_import_writes, "unique_logins", racing)
    before = row_counts(db_factory)
    content = _csv(*(f"Гонщиков{number};Иван;;;racer{number}@example.org;;{school};Завуч школы;;"
                     for number in range(5)))
    with pytest.raises(Conflict) as refused:
        import_staff(db_factory, as_(directory, "director_a"), "staff.csv", content, LIMITS, LINKS)
    assert refused.value.code == "import_raced"
    assert row_counts(db_factory) == before
