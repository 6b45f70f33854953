"""Which claims each РСАА scope releases, in the id_token and at userinfo."""

from __future__ import annotations

from typing import Any

from ..persons import Person

SCOPE_CLAIMS = {
    "profile": ("name", "family_name", "given_name", "middle_name", "preferred_username", "birthdate", "gender"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "employee": ("company", "department", "position"),
    "groups": ("groups",),
}
CLAIMS_SUPPORTED = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "at_hash",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims),
)


def person_claims(person: Person, scopes: list[str], sub: str | None = None) -> dict[str, Any]:
    every_claim: dict[str, Any] = {
        "name": person.full_name,
        "family_name": person.last_name,
        "given_name": person.first_name,
        "middle_name": person.middle_name,
        "preferred_username": person.email.split("@")[0],
        "birthdate": person.birth_date.isoformat(),
        "gender": "male" if person.gender == "M" else "female",
        "email": person.email,
        "email_verified": True,
        "phone_number": "+" + "".join(ch for ch in person.mobile if ch.isdigit()),
        "phone_number_verified": True,
        "company": person.rsaa.company,
        "department": person.rsaa.department,
        "position": person.rsaa.position,
        "groups": [org.short_name for org in person.organizations],
    }
    claims: dict[str, Any] = {"sub": sub or person.rsaa.sub}
    for scope in scopes:
        for name in SCOPE_CLAIMS.get(scope, ()):
            if every_claim[name] is not None:
                claims[name] = every_claim[name]
    return claims
