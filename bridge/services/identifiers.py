"""Russian registry identifiers and their checksums: ИНН, ОГРН (organizations), СНИЛС (people).

Each `normalized_*` function accepts what a person types (spaces, dashes) and returns the bare
digits, or raises InvalidInput with a Russian message.
"""

from __future__ import annotations

from bridge.services.errors import InvalidInput

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch not in " -")


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(inn: str) -> bool:
    if not inn.isdigit():
        return False
    if len(inn) == 10:
        return _weighted(inn, _INN10_WEIGHTS) == int(inn[9])
    if len(inn) == 12:
        return _weighted(inn, _INN12_WEIGHTS_11) == int(inn[10]) and _weighted(
            inn, _INN12_WEIGHTS_12
        ) == int(inn[11])
    return False


def is_valid_ogrn(ogrn: str) -> bool:
    """ОГРН of a legal entity (13 digits): the last digit is the first 12 mod 11 (mod 10)."""
    return len(ogrn) == 13 and ogrn.isdigit() and int(ogrn[:12]) % 11 % 10 == int(ogrn[12])


def snils_checksum(number: str) -> int:
    """Control number of the 9-digit СНИЛС body (ПФР rules: weights 9..1, modulo 101)."""
    total = sum(int(d) * w for d, w in zip(number, range(9, 0, -1), strict=True))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    remainder = total % 101
    return 0 if remainder == 100 else remainder


def is_valid_snils(snils: str) -> bool:
    if len(snils) != 11 or not snils.isdigit():
        return False
    return snils_checksum(snils[:9]) == int(snils[9:])


def normalized_inn(value: str) -> str:
    inn = _digits(value)
    # Organizations are legal entities: a 10-digit ИНН (12 digits belong to people).
    if len(inn) != 10 or not is_valid_inn(inn):
        raise InvalidInput("invalid_inn", "ИНН указан неверно: нужно 10 цифр, и контрольная цифра должна сойтись.")
    return inn


def normalized_ogrn(value: str) -> str:
    ogrn = _digits(value)
    if not is_valid_ogrn(ogrn):
        raise InvalidInput("invalid_ogrn", "ОГРН указан неверно: нужно 13 цифр, и контрольная цифра должна сойтись.")
    return ogrn


def normalized_snils(value: str) -> str:
    snils = _digits(value)
    if not is_valid_snils(snils):
        raise InvalidInput(
            "invalid_snils",
            "СНИЛС указан неверно: нужно 11 цифр (например, 112-233-445 95), контрольное число не сходится.",
        )
    return snils


def formatted_snils(snils: str | None) -> str | None:
    """«112-233-445 95» for a stored «11223344595», as documents write it."""
    if not snils or len(snils) != 11 or not snils.isdigit():
        return snils
    return f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}"
