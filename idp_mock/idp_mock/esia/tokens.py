"""ESIA's id_token and access_token, with its claim names and types (``sub`` is a number)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from ..config import MockConfig
from ..persons import Person
from ..signing import SigningKey, distort_times, now, sign_token

WRONG_AUDIENCE = "another-information-system"
# A real-world mistake: the test portal's issuer reaching a production client.
WRONG_ISSUER = "http://esia-portal1.test.gosuslugi.ru/"


def id_token(
    config: MockConfig,
    key: SigningKey,
    person: Person,
    client_id: str,
    auth_time: int,
    session_id: str,
    nonce: str | None,
    fault: str | None = None,
) -> str:
    issued = now()
    subject: dict[str, Any] = {
        "urn:esia:sbj:typ": "P",
        "urn:esia:sbj:oid": int(person.oid),
        "urn:esia:sbj:nam": f"OID.{person.oid}",
        "urn:esia:sbj:lvl": "PR" if person.trusted else "P",
    }
    if person.trusted:
        subject["urn:esia:sbj:is_tru"] = True
    claims: dict[str, Any] = {
        "nbf": issued,
        "exp": issued + config.token_lifetime_seconds,
        "iat": issued,
        "auth_time": auth_time,
        "iss": config.esia_issuer,
        "aud": client_id,
        "sub": int(person.oid),
        "amr": "PWD",
        "urn:esia:amd": "PWD",
        "urn:esia:sid": session_id,
        "urn:esia:sbj": subject,
    }
    if nonce and fault != "id_token_nonce_missing":
        claims["nonce"] = secrets.token_hex(16) if fault == "id_token_nonce_other" else nonce
    distort_times(claims, fault, issued)
    if fault == "id_token_wrong_aud":
        claims["aud"] = WRONG_AUDIENCE
    if fault == "id_token_wrong_iss":
        claims["iss"] = WRONG_ISSUER
    return sign_token(claims, key, {"ver": 1, "sbt": "id"}, fault)


def access_token(
    config: MockConfig, key: SigningKey, person: Person, client_id: str, scopes: list[str], session_id: str
) -> str:
    issued = now()
    claims = {
        "nbf": issued,
        "exp": issued + config.token_lifetime_seconds,
        "iat": issued,
        "iss": config.esia_issuer,
        "urn:esia:sid": session_id,
        "urn:esia:sbj_id": int(person.oid),
        "client_id": client_id,
        "scope": " ".join(f"{scope}?oid={person.oid}" for scope in scopes),
        # Unique per token even within one second.
        "jti": str(uuid.uuid4()),
    }
    return sign_token(claims, key, {"ver": 1, "sbt": "access"})
