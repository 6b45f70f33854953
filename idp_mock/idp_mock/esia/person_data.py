"""The bodies of /rs/prns/{oid}, its contacts (ctts) and its organizations (roles), scope-filtered."""

from __future__ import annotations

import hashlib
from typing import Any

from ..persons import Person
from .scopes import CONTACT_TYPES, PERSON_FIELDS


def _etag(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest().upper()


def person_body(person: Person, scopes: list[str]) -> dict[str, Any]:
    every_field: dict[str, Any] = {
        "firstName": person.first_name,
        "lastName": person.last_name,
        "middleName": person.middle_name,
        "birthDate": person.birth_date.strftime("%d.%m.%Y"),
        "gender": person.gender,
        "snils": person.snils,
        "inn": person.inn,
    }
    body: dict[str, Any] = {"stateFacts": ["EntityRoot"], "eTag": _etag(person.oid, person.snils)}
    for scope in scopes:
        for name in PERSON_FIELDS.get(scope, ()):
            if every_field[name] is not None:
                body[name] = every_field[name]
    body.update(trusted=person.trusted, citizenship="RUS", updatedOn=1_700_000_000, status="REGISTERED",
                verifying=False, containsUpCfmCode=False)
    return body


def contacts(person: Person, scopes: list[str]) -> list[dict[str, Any]]:
    allowed = {kind for scope in scopes for kind in CONTACT_TYPES.get(scope, ())}
    every_contact = [
        (1, "EML", person.email),
        (2, "MBT", person.mobile),
    ]
    return [
        {
            "stateFacts": ["Identifiable"],
            "id": int(person.oid) * 10 + number,
            "type": kind,
            "vrfStu": "VERIFIED",
            "value": value,
            "eTag": _etag(person.oid, kind, value),
        }
        for number, kind, value in every_contact
        if kind in allowed
    ]


def roles(person: Person) -> list[dict[str, Any]]:
    return [
        {
            "oid": int(org.oid),
            "fullName": org.full_name,
            "shortName": org.short_name,
            "ogrn": org.ogrn,
            "type": "LEGAL",
            "chief": org.chief,
            "admin": org.admin,
            "active": True,
            "hasRightOfSubstitution": False,
            "hasApprovalTabAccess": False,
            "isLiquidated": False,
        }
        for org in person.organizations
    ]


def collection(elements: list[Any]) -> dict[str, Any]:
    return {"stateFacts": ["hasSize"], "size": len(elements), "elements": elements}
