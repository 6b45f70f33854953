"""The Russian messages a person sees when an upstream provider fails, by failure kind.

A provider's title is a name a sentence must agree with: «Госуслуги» is plural («Госуслуги не
отвечают», «ответ Госуслуг»), an abbreviation such as «РСАА» does not decline and takes a
singular verb. `ProviderName` holds the forms the messages need.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.upstream.base import UpstreamError

GOSUSLUGI = "Госуслуги"


@dataclass(frozen=True)
class ProviderName:
    nominative: str
    genitive: str
    plural: bool

    @classmethod
    def of(cls, title: str) -> ProviderName:
        """«Госуслуги…» declines as a plural noun; any other title is taken as indeclinable."""
        if title.startswith(GOSUSLUGI):
            return cls(title, "Госуслуг" + title.removeprefix(GOSUSLUGI), plural=True)
        return cls(title, title, plural=False)

    def verb(self, singular: str, plural: str) -> str:
        return plural if self.plural else singular


def _unavailable(name: ProviderName) -> str:
    answers = name.verb("отвечает", "отвечают")
    return (
        f"{name.nominative} сейчас не {answers} или {answers} с ошибкой. Это временно: повторите вход через "
        "несколько минут. Ничего не сохранено — при повторе всё пройдёт заново."
    )


def _rejected(name: ProviderName) -> str:
    return (
        f"Ответ {name.genitive} не прошёл проверку безопасности, поэтому вход остановлен. Повторите вход; "
        "если ошибка повторяется — сообщите в техническую поддержку."
    )


def _denied(name: ProviderName) -> str:
    return (
        f"Вы отказались предоставить данные из {name.genitive}, поэтому вход не выполнен. "
        "Повторите, если передумали."
    )


def _login_required(name: ProviderName) -> str:
    asked = name.verb("не спросил", "не спросили")
    return (
        f"Приложение просит подтвердить вход заново, но {name.nominative} {asked} пароль ещё раз: вход прошёл "
        f"по уже открытому там сеансу. Выйдите из учётной записи «{name.nominative}» (или закройте браузер) "
        "и повторите вход."
    )


_STATE = "Сеанс входа устарел или начат в другом браузере. Начните вход заново."


def unavailable(title: str, detail: str) -> UpstreamError:
    return UpstreamError("upstream_unavailable", _unavailable(ProviderName.of(title)), detail=detail)


def rejected(title: str, detail: str) -> UpstreamError:
    return UpstreamError("upstream_rejected", _rejected(ProviderName.of(title)), detail=detail)


def denied(title: str, detail: str) -> UpstreamError:
    return UpstreamError("access_denied", _denied(ProviderName.of(title)), detail=detail)


def bad_state(detail: str) -> UpstreamError:
    return UpstreamError("state_mismatch", _STATE, detail=detail)


def login_required(title: str, detail: str) -> UpstreamError:
    return UpstreamError("login_required", _login_required(ProviderName.of(title)), detail=detail)
