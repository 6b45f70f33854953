from __future__ import annotations

import pytest

from bridge.services.errors import InvalidInput
from bridge.services.identifiers import normalized_inn, normalized_ogrn, normalized_snils
from bridge.services.logins import transliterate


@pytest.mark.parametrize(
    ("surname", "login"),
    [
        ("Новый", "novyi"),
        ("Щукина", "shchukina"),
        ("Хабибуллина", "khabibullina"),
        ("Юрьев", "iurev"),
        ("Ёлкина", "elkina"),
        ("Цой", "tsoi"),
        ("Подъячев", "podieiachev"),
        ("Римский-Корсаков", "rimskii-korsakov"),
        ("Smith", "smith"),
    ],
)
def test_logins_follow_icao_transliteration(surname: str, login: str) -> None:
    assert transliterate(surname) == login


def test_valid_identifiers_are_kept_as_bare_digits() -> None:
    assert normalized_snils("112-233-445 95") == "11223344595"
    assert normalized_inn("7707083893") == "7707083893"
    assert normalized_ogrn("1027700132195") == "1027700132195"


@pytest.mark.parametrize(
    ("check", "value", "code"),
    [
        (normalized_snils, "112-233-445 96", "invalid_snils"),
        (normalized_snils, "1122334459", "invalid_snils"),
        (normalized_inn, "7707083894", "invalid_inn"),
        (normalized_inn, "77070838", "invalid_inn"),
        (normalized_ogrn, "1027700132196", "invalid_ogrn"),
        (normalized_ogrn, "abc", "invalid_ogrn"),
    ],
)
def test_bad_checksums_are_refused_in_russian(check: object, value: str, code: str) -> None:
    assert callable(check)
    with pytest.raises(InvalidInput) as refused:
        check(value)
    assert refused.value.code == code
    assert "неверно" in refused.value.message
