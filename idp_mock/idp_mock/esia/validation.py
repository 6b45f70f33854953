"""The checks real ESIA makes on v2/ac and v3/te requests; each failure raises ``EsiaError``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.datastructures import ImmutableMultiDict

from gost_jws import load_verifier, parse_esia_timestamp, verify_client_secret

from ..config import EsiaClient
from . import errors
from .errors import EsiaError
from .scopes import KNOWN_SCOPES

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def single(params: ImmutableMultiDict[str, str], name: str, required: bool = True) -> str:
    """A parameter given once; ESIA refuses a repeated parameter (ESIA-007003)."""
    values = params.getlist(name)
    if len(values) > 1:
        raise EsiaError(errors.INVALID_PARAMETER, f"{name} given more than once")
    if not values or values[0] == "":
        if required:
            raise EsiaError(errors.NO_SCOPE if name == "scope" else errors.MISSING_PARAMETER, name)
        return ""
    return values[0]


def check_state(state: str) -> None:
    if not UUID_PATTERN.match(state):
        raise EsiaError(errors.INVALID_PARAMETER, "state must be a UUID")


def check_timestamp(timestamp: str, tolerance_seconds: int) -> None:
    try:
        moment = parse_esia_timestamp(timestamp)
    except ValueError as error:
        raise EsiaError(errors.BAD_TIMESTAMP, "format is 'YYYY.MM.DD HH:MM:SS +0300'") from error
    drift = abs((datetime.now(UTC) - moment).total_seconds())
    if drift > tolerance_seconds:
        raise EsiaError(errors.BAD_TIMESTAMP, f"{int(drift)} s away from the server clock")


def check_scope(scope: str, client: EsiaClient) -> list[str]:
    scopes = scope.split(" ")
    if any(not item for item in scopes):
        raise EsiaError(errors.INVALID_SCOPE, "scopes are separated by single spaces")
    unknown = [item for item in scopes if item not in KNOWN_SCOPES]
    if unknown:
        raise EsiaError(errors.INVALID_SCOPE, f"unknown scope {' '.join(unknown)}")
    not_allowed = [item for item in scopes if item not in client.scopes]
    if not_allowed:
        raise EsiaError(errors.INVALID_SCOPE, f"not allowed for the system: {' '.join(not_allowed)}")
    return scopes


def check_certificate_hash(value: str, client: EsiaClient) -> None:
    if value.upper() != client.expected_certificate_hash:
        raise EsiaError(errors.UNKNOWN_CLIENT, "client_certificate_hash does not match the registered certificate")


def check_client_secret(client: EsiaClient, secret: str, *parts: str) -> None:
    """``client_secret`` must be the client's signature over the exact concatenation of ``parts``."""
    if not verify_client_secret(load_verifier(client.public_key), secret, *parts):
        raise EsiaError(errors.BAD_CLIENT_SECRET)
