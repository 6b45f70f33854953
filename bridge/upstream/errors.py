"""The Russian messages a person sees when an upstream provider fails, by failure kind."""

from __future__ import annotations

from bridge.upstream.base import UpstreamError

_UNAVAILABLE = (
    "{title} сейчас не отвечает или отвечает с ошибкой. Это временно: повторите вход через "
    "несколько минут. Ничего не сохранено — при повторе всё пройдёт заново."
)
_REJECTED = (
    "Ответ {title} не прошёл проверку безопасности, поэтому вход остановлен. Повторите вход; "
    "если ошибка повторяется — сообщите в техническую поддержку."
)
_DENIED = "Вы отказались предоставить данные {title}, поэтому вход не выполнен. Повторите, если передумали."
_STATE = "Сеанс входа устарел или начат в другом браузере. Начните вход заново."
_LOGIN_REQUIRED = (
    "Приложение просит подтвердить вход заново, но «{title}» не спросили пароль ещё раз: вход прошёл "
    "по уже открытому там сеансу. Выйдите из учётной записи «{title}» (или закройте браузер) "
    "и повторите вход."
)


def unavailable(title: str, detail: str) -> UpstreamError:
    return UpstreamError("upstream_unavailable", _UNAVAILABLE.format(title=title), detail=detail)


def rejected(title: str, detail: str) -> UpstreamError:
    return UpstreamError("upstream_rejected", _REJECTED.format(title=title), detail=detail)


def denied(title: str, detail: str) -> UpstreamError:
    return UpstreamError("access_denied", _DENIED.format(title=title), detail=detail)


def bad_state(detail: str) -> UpstreamError:
    return UpstreamError("state_mismatch", _STATE, detail=detail)


def login_required(title: str, detail: str) -> UpstreamError:
    return UpstreamError("login_required", _LOGIN_REQUIRED.format(title=title), detail=detail)
