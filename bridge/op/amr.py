"""`amr` as relying apps may read it: only values registered by RFC 8176.

Upstream providers speak their own dialects (ESIA: "PWD", "DS"; the Moscow directory:
"password"); the session keeps what they said, and the tokens carry its RFC 8176 reading.
Unknown values are dropped rather than guessed. Which provider it was is not an `amr` value:
it goes in the `idp` claim.
"""

from __future__ import annotations

from collections.abc import Iterable

# RFC 8176 §2 (the IANA "Authentication Method Reference Values" registry).
REGISTERED = frozenset(
    {"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pwd", "rba", "retina", "sc",
     "sms", "swk", "tel", "user", "vbm", "wia"}
)
# Upstream spellings we understand, lower-cased.
_ALIASES = {
    "password": "pwd",
    # ESIA "DS": an electronic signature, made with a key on a token or smart card.
    "ds": "hwk",
    "totp": "otp",
    "hotp": "otp",
}
_KNOWLEDGE = frozenset({"pwd", "pin", "kba"})
_POSSESSION = frozenset({"hwk", "swk", "sc", "otp", "sms", "tel"})
_INHERENCE = frozenset({"face", "fpt", "iris", "retina", "vbm"})


def rfc8176_amr(values: Iterable[str]) -> list[str]:
    """The registered methods among `values` (in order, once each); `mfa` when two factor kinds."""
    methods: list[str] = []
    for value in values:
        lowered = str(value).strip().lower()
        method = _ALIASES.get(lowered, lowered)
        if method in REGISTERED and method not in methods:
            methods.append(method)
    kinds = sum(1 for kind in (_KNOWLEDGE, _POSSESSION, _INHERENCE) if kind & set(methods))
    if kinds >= 2 and "mfa" not in methods:
        methods.append("mfa")
    return methods
