"""What a person reads when a relying app's request is refused: Russian, by OAuth error code.

Authlib's `error.description` is an English sentence for the app's developer; it goes to the audit
record, never onto a page. The code itself is shown, so support can tell one refusal from another.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error

_GENERIC = "Приложение прислало запрос на вход, который нельзя выполнить."

MESSAGES = {
    "invalid_client": "Приложение, которое направило вас сюда, не зарегистрировано в едином входе или отключено.",
    "unauthorized_client": "Этому приложению не разрешён такой способ входа.",
    "invalid_request": "Приложение прислало неполный или неверный запрос на вход.",
    "invalid_request_uri": "Приложение прислало неверную ссылку на запрос входа.",
    "invalid_request_object": "Приложение прислало неверно оформленный запрос на вход.",
    "request_not_supported": "Приложение прислало запрос на вход в виде, который единый вход не принимает.",
    "request_uri_not_supported": "Приложение прислало запрос на вход в виде, который единый вход не принимает.",
    "registration_not_supported": "Приложение прислало запрос на вход в виде, который единый вход не принимает.",
    "unsupported_response_type": "Приложение запросило неподдерживаемый способ входа.",
    "invalid_scope": "Приложение запросило данные, которые ему не разрешено получать.",
    "access_denied": "Вход в приложение отклонён.",
    "login_required": "Чтобы войти в приложение, сначала войдите в единый вход.",
    "interaction_required": "Чтобы войти в приложение, нужно ваше участие: войдите в приложение заново.",
    "consent_required": "Чтобы войти в приложение, нужно ваше согласие: войдите в приложение заново.",
    "account_selection_required": "Выберите, под какой учётной записью войти: войдите в приложение заново.",
    "server_error": "В едином входе произошла ошибка. Попробуйте позже.",
    "temporarily_unavailable": "Единый вход временно недоступен. Попробуйте позже.",
}
REDIRECT_NOT_REGISTERED = (
    "Адрес возврата, который прислало приложение, не зарегистрирован для него в едином входе. "
    "Из соображений безопасности мы не можем вернуть вас туда."
)


def russian_message(error: OAuth2Error) -> str:
    if "redirect" in str(error.description or "").lower():
        return REDIRECT_NOT_REGISTERED
    return MESSAGES.get(str(error.error), _GENERIC)
