"""Test persons: who can sign in, and what each provider says about them.

The data file (``persons.json`` in the package, or any path) holds ``{"password": default,
"persons": [...]}``; a person is keyed by its ESIA ``oid`` and carries an ``rsaa.sub`` too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

SNILS_PATTERN = re.compile(r"^\d{3}-\d{3}-\d{3} \d{2}$")


def snils_checksum_ok(snils: str) -> bool:
    """The СНИЛС control number rule (numbers up to 001-001-998 carry no check)."""
    digits = re.sub(r"\D", "", snils)
    if len(digits) != 11:
        return False
    number, control = digits[:9], int(digits[9:])
    if int(number) <= 1001998:
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(number))
    expected = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
    return control == expected


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _phone_key(value: str) -> str:
    digits = _digits(value)
    if len(digits) == 11 and digits[0] in "78":
        return "7" + digits[1:]
    if len(digits) == 10:
        return "7" + digits
    return digits


@dataclass(frozen=True)
class Organization:
    oid: str
    full_name: str
    short_name: str
    ogrn: str
    position: str
    chief: bool = False
    admin: bool = False


@dataclass(frozen=True)
class RsaaProfile:
    sub: str
    company: str
    department: str
    position: str
    # The id_token's `acr`: "1" for a password, as most regional providers say; a tester may raise it.
    acr: str = "1"


@dataclass(frozen=True)
class Person:
    oid: str
    last_name: str
    first_name: str
    birth_date: date
    gender: str
    snils: str
    email: str
    mobile: str
    trusted: bool
    rsaa: RsaaProfile
    password: str = field(repr=False)
    middle_name: str | None = None
    inn: str | None = None
    organizations: tuple[Organization, ...] = ()

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.last_name, self.first_name, self.middle_name) if part)

    @property
    def logins(self) -> tuple[str, str, str]:
        """What a tester may type: mobile, e-mail, СНИЛС."""
        return self.mobile, self.email, self.snils

    def matches_login(self, login: str) -> bool:
        login = login.strip()
        if "@" in login:
            return login.lower() == self.email.lower()
        key = _phone_key(login)
        return bool(key) and (key == _phone_key(self.mobile) or _digits(login) == _digits(self.snils))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["birth_date"] = self.birth_date.isoformat()
        data["organizations"] = [asdict(org) for org in self.organizations]
        del data["password"]
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default_password: str) -> Person:
        snils = str(data["snils"])
        if not SNILS_PATTERN.match(snils) or not snils_checksum_ok(snils):
            raise ValueError(f"person {data.get('oid')}: СНИЛС {snils!r} is not 'NNN-NNN-NNN NN' with a valid checksum")
        if data["gender"] not in ("M", "F"):
            raise ValueError(f"person {data.get('oid')}: gender is 'M' or 'F'")
        rsaa = data.get("rsaa") or {}
        organizations = tuple(Organization(**org) for org in data.get("organizations", ()))
        first_org = organizations[0] if organizations else None
        return cls(
            oid=str(data["oid"]),
            last_name=str(data["last_name"]),
            first_name=str(data["first_name"]),
            middle_name=data.get("middle_name") or None,
            birth_date=date.fromisoformat(str(data["birth_date"])),
            gender=str(data["gender"]),
            snils=snils,
            inn=data.get("inn"),
            email=str(data["email"]),
            mobile=str(data["mobile"]),
            trusted=bool(data.get("trusted", True)),
            password=str(data.get("password") or default_password),
            rsaa=RsaaProfile(
                sub=str(rsaa.get("sub") or f"rsaa-{data['oid']}"),
                company=str(rsaa.get("company") or (first_org.short_name if first_org else "")),
                department=str(rsaa.get("department", "")),
                position=str(rsaa.get("position") or (first_org.position if first_org else "")),
                acr=str(rsaa.get("acr") or "1"),
            ),
            organizations=organizations,
        )


def read_persons_text(path: Path | None) -> str:
    if path is None:
        return resources.files("idp_mock").joinpath("persons.json").read_text(encoding="utf-8")
    return path.read_text(encoding="utf-8")


class PersonDirectory:
    """The persons one running mock knows; testers may add or change them at run time."""

    def __init__(self, persons: list[Person], default_password: str) -> None:
        self.default_password = default_password
        self._by_oid: dict[str, Person] = {}
        for person in persons:
            self.put(person)

    @classmethod
    def from_text(cls, text: str) -> PersonDirectory:
        data = json.loads(text)
        password = str(data.get("password", ""))
        return cls([Person.from_json(item, password) for item in data["persons"]], password)

    def all(self) -> list[Person]:
        return list(self._by_oid.values())

    def by_oid(self, oid: str) -> Person | None:
        return self._by_oid.get(str(oid))

    def by_rsaa_sub(self, sub: str) -> Person | None:
        return next((p for p in self._by_oid.values() if p.rsaa.sub == sub), None)

    def by_login(self, login: str) -> Person | None:
        return next((p for p in self._by_oid.values() if p.matches_login(login)), None)

    def authenticate(self, login: str, password: str) -> Person | None:
        person = self.by_login(login)
        if person is None or person.password != password:
            return None
        return person

    def put(self, person: Person) -> None:
        for other in self._by_oid.values():
            if other.oid != person.oid and other.rsaa.sub == person.rsaa.sub:
                raise ValueError(f"rsaa.sub {person.rsaa.sub} already belongs to {other.oid}")
        self._by_oid[person.oid] = person

    def upsert(self, data: Mapping[str, Any]) -> Person:
        """Add a person, or change the given fields of an existing one (matched by ``oid``)."""
        existing = self.by_oid(str(data.get("oid", "")))
        merged: dict[str, Any] = {**existing.to_json(), "password": existing.password} if existing else {}
        for key, value in data.items():
            if key == "rsaa" and isinstance(value, Mapping) and isinstance(merged.get("rsaa"), Mapping):
                merged["rsaa"] = {**merged["rsaa"], **value}
            else:
                merged[key] = value
        person = Person.from_json(merged, self.default_password)
        self.put(person)
        return person

    def someone_else(self, person: Person) -> Person:
        """Another person, for faults that answer with the wrong subject."""
        others = [p for p in self._by_oid.values() if p.oid != person.oid]
        if others:
            return others[0]
        return replace(person, oid=str(int(person.oid) + 1), rsaa=replace(person.rsaa, sub=person.rsaa.sub + "-other"))
