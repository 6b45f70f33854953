"""The РСАА id_token: standard OIDC claims plus the staff directory's, RS256 with ``kid``."""

from __future__ import annotations

import secrets
from typing import Any

from ..config import MockConfig
from ..persons import Person
from ..signing import SigningKey, at_hash, distort_times, now, sign_token
from ..store import IssuedToken
from .claims import person_claims

WRONG_AUDIENCE = "another-client"


def id_token(
    config: MockConfig,
    key: SigningKey,
    person: Person,
    client_id: str,
    granted: IssuedToken,
    access_token: str,
    fault: str | None = None,
) -> str:
    issued = now()
    claims: dict[str, Any] = {
        **person_claims(person, granted.scope.split(" ")),
        "iss": config.rsaa_issuer,
        "aud": client_id,
        "azp": client_id,
        "iat": issued,
        "exp": issued + config.token_lifetime_seconds,
        "auth_time": granted.auth_time,
        "amr": ["password"],
        "acr": person.rsaa.acr,
        "sid": granted.sid,
        "at_hash": at_hash(access_token),
    }
    if granted.nonce and fault != "id_token_nonce_missing":
        claims["nonce"] = secrets.token_urlsafe(32) if fault == "id_token_nonce_other" else granted.nonce
    distort_times(claims, fault, issued)
    if fault == "id_token_not_yet_valid":
        claims["nbf"] = claims["iat"]
    elif fault != "id_token_expired":
        claims.pop("nbf", None)
    if fault == "id_token_wrong_aud":
        claims["aud"] = WRONG_AUDIENCE
        claims["azp"] = WRONG_AUDIENCE
    if fault == "id_token_wrong_iss":
        claims["iss"] = f"{config.public_base_url}/rsaa-other"
    return sign_token(claims, key, {}, fault)
