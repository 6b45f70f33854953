"""Issued passwords: generation and argon2id hashing.

Hashing is deliberately slow (OWASP minimum: 19 MiB, t=2); web callers run it in a thread.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Unambiguous characters only: the password is read off a screen and typed by hand.
_LOWER = "abcdefghjkmnpqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
_SYMBOLS = "!$%*#@?"
PASSWORD_LENGTH = 12

# A valid hash of a random password: verifying against it costs the same as a real check,
# so an unknown login takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    alphabet = _LOWER + _UPPER + _DIGITS + _SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c in _LOWER for c in candidate)
            and any(c in _UPPER for c in candidate)
            and any(c in _DIGITS for c in candidate)
            and any(c in _SYMBOLS for c in candidate)
        ):
            return candidate


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a missing hash still spends the full verification time."""
    try:
        if password_hash is None:
            _HASHER.verify(_DUMMY_HASH, password)
            return False
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


