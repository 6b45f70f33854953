"""The bulk import of staff: each row of a spreadsheet judged as a registration would judge it.

`check_rows` reports, per row, who would be registered with which role, or everything wrong with
it: names, СНИЛС, e-mail, phone, an unknown organization, one outside the administrator's subtree,
a role that organization cannot have, a person already registered, or a row repeating another row
of the file. Nothing is written. The import itself checks again in its one transaction and then
writes every row in bulk (bridge.services.staff_import_writes), normalized as a single
registration (`register_person`) normalizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.services.actors import Actor
from bridge.services.contacts import normalized_email
from bridge.services.errors import DomainError, InvalidInput
from bridge.services.identifiers import normalized_snils
from bridge.services.person_names import comparable, full_name
from bridge.services.phones import normalized_phone
from bridge.services.role_grants import RoleGrant, grant_target
from bridge.services.roles import ROLES, Role
from bridge.services.staff import NewStaff, checked_names
from bridge.services.staff_import_files import SheetRow
from bridge.storage.models import Organization, RoleAssignment, StaffMember


@dataclass(frozen=True)
class RowReport:
    line: int
    full_name: str
    organization_name: str
    role_title: str
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def _organization_key(cell: str) -> tuple[str, str] | None:
    """("inn", ИНН) for 10 or 12 digits, ("id", number) for a shorter number, None otherwise."""
    digits = cell.strip()
    if not digits.isdigit():
        return None
    return ("inn", digits) if len(digits) in (10, 12) else ("id", digits) if len(digits) <= 9 else None


def _role(cell: str) -> Role | None:
    wanted = comparable(cell)
    for role, info in ROLES.items():
        if wanted in (role.value, comparable(info.title)):
            return role
    return None


def _start_date(cell: str, today: date) -> date:
    text = cell.strip()
    if not text:
        return today
    for shape in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, shape).date()
        except ValueError:
            continue
    raise InvalidInput("import_date", f"Дата начала «{text}» не похожа на дату: пишите ДД.ММ.ГГГГ.")


def new_staff_of(row: SheetRow, organization_id: int, role: Role, today: date) -> NewStaff:
    cells = row.cells
    patronymic = cells.get("patronymic", "")
    return NewStaff(
        surname=cells.get("surname", ""), name=cells.get("name", ""), patronymic=patronymic or None,
        no_patronymic=not patronymic,
        grant=RoleGrant(
            organization_id, role.value, _start_date(cells.get("start_date", ""), today), None,
            position=cells.get("position") or None,
        ),
        snils=cells.get("snils") or None, email=cells.get("email") or None, phone=cells.get("phone") or None,
    )


def _chunks(values: list[str], size: int = 1000) -> list[list[str]]:
    return [values[start:start + size] for start in range(0, len(values), size)]


class _Lookups:
    """What the rows ask of the directory, fetched a thousand rows at a time rather than row by
    row (a 5,000-row file is a handful of queries, not 15,000), and what earlier rows claimed."""

    def __init__(self, db: Session, rows: list[SheetRow]) -> None:
        wanted = {found for row in rows if (found := _organization_key(row.cells.get("organization", "")))}
        ids = [value for kind, value in wanted if kind == "id"]
        inns = [value for kind, value in wanted if kind == "inn"]
        self.by_id = {org.id: org for chunk in _chunks(ids)
                      for org in db.scalars(select(Organization).where(Organization.id.in_([int(i) for i in chunk])))}
        self.by_inn = {org.inn: org for chunk in _chunks(inns)
                       for org in db.scalars(select(Organization).where(Organization.inn.in_(chunk)))}
        snils = sorted({value for row in rows if (value := _valid_snils(row.cells.get("snils", "")))})
        self.registered_snils = {value for chunk in _chunks(snils)
                                 for value in db.scalars(select(StaffMember.snils).where(StaffMember.snils.in_(chunk)))}
        names = sorted({_name_key(row) for row in rows})
        self.namesakes: dict[tuple[str, int], tuple[str, str, str]] = {}
        for chunk in _chunks(names):
            name_key: str
            holders = db.execute(
                select(StaffMember.search_name, RoleAssignment.organization_id, StaffMember.surname,
                       StaffMember.name, StaffMember.login)
                .join(RoleAssignment, RoleAssignment.staff_id == StaffMember.id)
                .where(StaffMember.search_name.in_(chunk))
            )
            for name_key, organization_id, surname, name, login in holders:
                self.namesakes.setdefault((name_key, organization_id), (surname, name, login))
        self.grants: dict[tuple[object, ...], str | None] = {}
        self.snils: dict[str, int] = {}
        self.people: dict[tuple[str, int], int] = {}

    def organization(self, cell: str) -> Organization | None:
        key = _organization_key(cell)
        if key is None:
            return None
        if key[0] == "inn":
            return self.by_inn.get(key[1])
        return self.by_id.get(int(key[1]))

    def grant_refusal(self, db: Session, actor: Actor, grant: RoleGrant) -> str | None:
        key = (grant.organization_id, grant.role, grant.start_date, grant.end_date, grant.position)
        if key not in self.grants:
            try:
                grant_target(db, actor, grant)
                self.grants[key] = None
            except DomainError as error:
                self.grants[key] = error.message
        return self.grants[key]


def _valid_snils(cell: str) -> str | None:
    try:
        return normalized_snils(cell) if cell else None
    except DomainError:
        return None


def _name_key(row: SheetRow) -> str:
    cells = row.cells
    return comparable(full_name(cells.get("surname"), cells.get("name"), cells.get("patronymic")))


def _check(db: Session, actor: Actor, row: SheetRow, today: date, seen: _Lookups) -> RowReport:
    cells, errors = row.cells, []
    patronymic = cells.get("patronymic", "")
    name_ok = True
    try:
        checked_names(cells.get("surname"), cells.get("name"), patronymic or None, not patronymic)
    except DomainError as error:
        errors.append(error.message)
        name_ok = False
    person = full_name(cells.get("surname"), cells.get("name"), patronymic)
    if cells.get("snils"):
        try:
            snils = normalized_snils(cells["snils"])
            if snils in seen.snils:
                errors.append(f"Этот СНИЛС уже есть в строке {seen.snils[snils]} файла.")
            elif snils in seen.registered_snils:
                errors.append("Сотрудник с таким СНИЛС уже зарегистрирован.")
            seen.snils.setdefault(snils, row.line)
        except DomainError as error:
            errors.append(error.message)
    for field, check in (("email", normalized_email), ("phone", normalized_phone)):
        if cells.get(field):
            try:
                check(cells[field])
            except DomainError as error:
                errors.append(error.message)
    organization = seen.organization(cells.get("organization", ""))
    role = _role(cells.get("role", ""))
    if organization is None:
        errors.append(f"Организация «{cells.get('organization', '')}» не найдена: укажите её номер или ИНН.")
    if role is None:
        errors.append(f"Роль «{cells.get('role', '')}» не найдена: пишите её так, как в образце.")
    if organization is not None and role is not None:
        try:
            refusal = seen.grant_refusal(db, actor, new_staff_of(row, organization.id, role, today).grant)
        except DomainError as error:
            refusal = error.message
        if refusal is not None:
            errors.append(refusal)
        if name_ok:
            key = (comparable(person), organization.id)
            if key in seen.people:
                errors.append(f"Этот человек в этой организации уже есть в строке {seen.people[key]} файла.")
            elif (namesake := seen.namesakes.get(key)) is not None:
                errors.append(f"В организации уже есть {namesake[0]} {namesake[1]} (логин {namesake[2]}).")
            seen.people.setdefault(key, row.line)
    return RowReport(
        line=row.line, full_name=person, organization_name=organization.name if organization else "",
        role_title=ROLES[role].title if role else "", errors=tuple(errors),
    )


def check_rows(db: Session, actor: Actor, rows: list[SheetRow], today: date) -> list[RowReport]:
    seen = _Lookups(db, rows)
    return [_check(db, actor, row, today, seen) for row in rows]


def planned_staff(db: Session, rows: list[SheetRow], today: date) -> list[NewStaff]:
    """The registrations of rows that `check_rows` found good (the caller checked)."""
    planned, lookups = [], _Lookups(db, rows)
    for row in rows:
        organization = lookups.organization(row.cells.get("organization", ""))
        role = _role(row.cells.get("role", ""))
        assert organization is not None and role is not None
        planned.append(new_staff_of(row, organization.id, role, today))
    return planned
