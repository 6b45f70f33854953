"""What a person reads when an upstream fails: «Госуслуги» is plural, «РСАА» does not decline."""

from __future__ import annotations

from bridge.upstream import errors


def test_gosuslugi_take_plural_verbs_and_the_genitive() -> None:
    assert errors.unavailable("Госуслуги", "").message.startswith(
        "Госуслуги сейчас не отвечают или отвечают с ошибкой."
    )
    assert errors.rejected("Госуслуги", "").message.startswith("Ответ Госуслуг не прошёл проверку безопасности")
    assert errors.denied("Госуслуги", "").message.startswith("Вы отказались предоставить данные из Госуслуг,")
    assert "но Госуслуги не спросили пароль ещё раз" in errors.login_required("Госуслуги", "").message


def test_an_abbreviation_stays_as_it_is_with_a_singular_verb() -> None:
    assert errors.unavailable("РСАА", "").message.startswith("РСАА сейчас не отвечает или отвечает с ошибкой.")
    assert errors.rejected("РСАА", "").message.startswith("Ответ РСАА не прошёл")
    assert "но РСАА не спросил пароль ещё раз" in errors.login_required("РСАА", "").message


def test_a_test_stand_of_gosuslugi_declines_too() -> None:
    assert errors.rejected("Госуслуги (тестовый контур)", "").message.startswith(
        "Ответ Госуслуг (тестовый контур) не прошёл"
    )
