"""The people of benchmarks/load_faults.py: made up, in the mock's persons file and in the bridge's directory."""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bridge.services.roles import Role
from bridge.storage.database import normalized_url
from idp_mock.persons import snils_checksum_ok
from tests.support.factories import give_role, make_organization, make_staff

MOCK_PASSWORD = "Load-12345"  # noqa: S105 - the made-up people's password at the mock
SURNAMES = ("Иванова", "Петров", "Сидорова", "Кузнецов", "Смирнова", "Попов", "Волкова", "Соколов")
NAMES = ("Мария", "Андрей", "Елена", "Сергей", "Ольга", "Дмитрий", "Анна", "Игорь")


@dataclass
class Person:
    number: int
    surname: str
    name: str
    snils: str
    password: str
    bound: bool = False

    @property
    def email(self) -> str:
        return f"load{self.number}@school.test"

    @property
    def login(self) -> str:
        return f"load{self.number}"

    @property
    def mock_password(self) -> str:
        return MOCK_PASSWORD


def valid_snils(rng: random.Random) -> str:
    while True:
        number = f"{rng.randrange(2_000_000, 999_999_999):09d}"
        total = sum(int(d) * (9 - i) for i, d in enumerate(number))
        control = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
        snils = f"{number[:3]}-{number[3:6]}-{number[6:]} {control:02d}"
        if snils_checksum_ok(snils):
            return snils


def make_people(count: int) -> list[Person]:
    rng = random.Random(13)  # noqa: S311 - made-up СНИЛС, the same every run
    return [
        Person(i, SURNAMES[i % len(SURNAMES)], NAMES[i % len(NAMES)], valid_snils(rng), secrets.token_urlsafe(12))
        for i in range(count)
    ]


def mock_persons_file(people: list[Person], path: Path) -> None:
    persons = [
        {
            "oid": str(1_000_000 + person.number), "last_name": person.surname, "first_name": person.name,
            "birth_date": "1980-01-01", "gender": "F" if person.surname.endswith("а") else "M",
            "snils": person.snils, "email": person.email, "mobile": f"+7(900){person.number:07d}",
            "rsaa": {"sub": f"load-{person.number}", "position": "учитель"},
        }
        for person in people
    ]
    path.write_text(json.dumps({"password": MOCK_PASSWORD, "persons": persons}, ensure_ascii=False), encoding="utf-8")


def register_in_bridge(url: str, people: list[Person]) -> None:
    """Each person a teacher of one school, holding an issued password (as `bridge staff add` leaves them)."""
    engine = create_engine(normalized_url(url))
    with Session(engine) as db, db.begin():
        school = make_organization(db, name="МБОУ СОШ № 1 (нагрузка)")
        for person in people:
            staff = make_staff(
                db, surname=person.surname, name=person.name, patronymic=None, login=person.login,
                password=person.password,
            )
            staff.email = person.email
            give_role(db, staff, school, Role.SCHOOL_DEPUTY)
    engine.dispose()
