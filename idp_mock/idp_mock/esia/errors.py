"""ESIA's error catalogue: an OAuth ``error`` plus an ``error_description`` starting ``ESIA-0070xx:``."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..pages import error_page, redirect_to


@dataclass(frozen=True)
class EsiaErrorKind:
    error: str
    code: str
    text: str  # as ESIA words it on the redirect
    text_ru: str  # for the HTML page


MISSING_PARAMETER = EsiaErrorKind(
    "invalid_request", "ESIA-007014", "The request does not contain the mandatory parameter",
    "Запрос не содержит обязательного параметра")
INVALID_PARAMETER = EsiaErrorKind(
    "invalid_request", "ESIA-007003",
    "The request is missing a required parameter, includes an invalid parameter value or includes a parameter "
    "more than once", "В запросе неверное значение параметра или параметр указан несколько раз")
ACCESS_DENIED = EsiaErrorKind(
    "access_denied", "ESIA-007004", "The resource owner or authorization server denied the request.",
    "Владелец ресурса или сервис авторизации отклонил запрос")
INVALID_SCOPE = EsiaErrorKind(
    "invalid_scope", "ESIA-007006", "The requested scope is invalid, unknown, or malformed",
    "Запрошенная область доступа (scope) указана неверно, неизвестна или сформирована некорректно")
SERVER_ERROR = EsiaErrorKind(
    "server_error", "ESIA-007007", "The authorization server encountered an unexpected condition",
    "Возникла неожиданная ошибка в работе сервиса авторизации")
UNSUPPORTED_RESPONSE_TYPE = EsiaErrorKind(
    "unsupported_response_type", "ESIA-007009",
    "The authorization server does not support obtaining an authorization code using this method",
    "Сервис авторизации не поддерживает получение маркера доступа этим методом")
INVALID_GRANT = EsiaErrorKind(
    "invalid_grant", "ESIA-007011",
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client",
    "Авторизационный код недействителен, просрочен, отозван или выдан другой системе-клиенту")
UNSUPPORTED_GRANT_TYPE = EsiaErrorKind(
    "unsupported_grant_type", "ESIA-007012",
    "The authorization grant type is not supported by the authorization server",
    "Тип авторизационного кода не поддерживается сервисом авторизации")
NO_SCOPE = EsiaErrorKind(
    "invalid_scope", "ESIA-007013", "The request does not contain the scope",
    "Запрос не содержит указания на область доступа (scope)")
BAD_TIMESTAMP = EsiaErrorKind(
    "invalid_request", "ESIA-007015", "Invalid request time", "Неверное время запроса")
UNKNOWN_REDIRECT_URI = EsiaErrorKind(
    "invalid_request", "ESIA-007023", "The redirect_uri is not registered for the system",
    "Указанный в запросе redirect_uri отсутствует среди разрешённых для ИС")
UNKNOWN_CLIENT = EsiaErrorKind(
    "invalid_client", "ESIA-007002",
    "The certificate does not match the system mnemonic or the system has no certificate",
    "Несоответствие сертификата и мнемоники информационной системы или отсутствие сертификата")
BAD_CLIENT_SECRET = EsiaErrorKind(
    "invalid_client", "ESIA-007053",
    "client_secret is malformed: it does not match the certificate or the system, or the certificate "
    "is not active", "client_secret сформирован некорректно")
UNTRUSTED_ACCOUNT = EsiaErrorKind(
    "access_denied", "ESIA-007055", "Sign-in with an unconfirmed account",
    "Вход в систему осуществляется с неподтверждённой учётной записью")
NOT_AN_EMPLOYEE = EsiaErrorKind(
    "access_denied", "ESIA-007194", "Scope requested for an organization the user is not an employee of",
    "Запрос области доступа для организации, сотрудником которой пользователь не является")


class EsiaError(Exception):
    def __init__(self, kind: EsiaErrorKind, detail: str = "") -> None:
        super().__init__(kind.code)
        self.kind = kind
        self.detail = detail

    @property
    def description(self) -> str:
        suffix = f" [{self.detail}]" if self.detail else ""
        return f"{self.kind.code}: {self.kind.text}{suffix}"


def redirect_error(redirect_uri: str, error: EsiaError, state: str | None) -> Response:
    return redirect_to(redirect_uri, {"error": error.kind.error, "error_description": error.description,
                                      "state": state})


def token_error(error: EsiaError, state: str | None) -> Response:
    body: dict[str, str] = {"error": error.kind.error, "error_description": error.description}
    if state is not None:
        body["state"] = state
    return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})


def html_error(request: Request, error: EsiaError) -> Response:
    message = error.kind.text_ru + (f" ({error.detail})" if error.detail else "")
    return error_page(request, "esia", "Ошибка авторизации", message, code=error.kind.code)
