"""Demo data for the shipped test stand: an education department, a school, their two heads.

Run once by docker-compose.yml's `demo-data` service (and by tests/test_compose.py outside Docker)
through the `bridge` command itself, so it goes through the same use cases, permission checks and
audit as an operator's commands. Idempotent: a second run finds the department and changes nothing.
The issued logins and one-time passwords are printed once, as `bridge staff add` prints them.
"""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout
from typing import Any

DEPARTMENT = "Управление образования г. Подольска"
SCHOOL = "МОУ «СОШ № 12» г. Подольска"
# Persons of idp-mock (idp_mock/persons.json), so that their РСАА identity matches the card.
HEAD = ("Новиков", "Сергей", "Петрович", "novikov@uo-podolsk.ru")
DIRECTOR = ("Морозов", "Алексей", "Юрьевич", "a.morozov@sosh12-podolsk.ru")


def bridge(*argv: str) -> Any:
    """`bridge --json ARGV`, in this process (one start-up for every command), its JSON answer."""
    from bridge.cli.main import main

    printed = io.StringIO()
    with redirect_stdout(printed):
        status = main(["--json", *argv])
    if status != 0:
        sys.exit(f"bridge {' '.join(argv[:2])}: {printed.getvalue().strip()}")
    return json.loads(printed.getvalue())


def staff(org_id: int, role: str, person: tuple[str, str, str, str], *acting_as: str) -> dict[str, Any]:
    surname, name, patronymic, email = person
    added: dict[str, Any] = bridge(
        *acting_as, "staff", "add", "--org", str(org_id), "--role", role, "--surname", surname, "--name", name,
        "--patronymic", patronymic, "--email", email,
    )
    return added


def main() -> None:
    existing = bridge("org", "list")["organizations"]
    if any(org["name"] == DEPARTMENT for org in existing):
        print("Демо-данные уже есть: ничего не изменено.")
        return
    department = bridge(
        "org", "add", "--name", DEPARTMENT, "--kind", "education_department", "--district", "Подольск"
    )["organization"]
    school = bridge(
        "org", "add", "--name", SCHOOL, "--kind", "school", "--district", "Подольск",
        "--parent", str(department["id"]),
    )["organization"]
    head = staff(department["id"], "education_department", HEAD)
    # The department issues its director's login, as the issuing hierarchy says.
    director = staff(
        school["id"], "school_director", DIRECTOR, "--acting-as", head["credential"]["login"]
    )
    print("Демо-данные созданы. Первый вход (пароль показывается один раз):")
    for title, added, person in (("Начальник управления", head, HEAD), ("Директор школы", director, DIRECTOR)):
        credential = added["credential"]
        print(f"  {title}: логин {credential['login']}, пароль {credential['password']}")
        print(f"    в РСАА (http://localhost:9000) войдите как {person[3]}, пароль Test-12345")


if __name__ == "__main__":
    main()
