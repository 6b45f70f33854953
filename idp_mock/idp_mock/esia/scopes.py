"""The ESIA scopes the mock knows, with the wording of its consent page."""

from __future__ import annotations

SCOPE_DESCRIPTIONS = {
    "openid": "Вход в систему (идентификатор учётной записи)",
    "fullname": "Фамилия, имя и отчество",
    "birthdate": "Дата рождения",
    "gender": "Пол",
    "snils": "СНИЛС",
    "inn": "ИНН",
    "email": "Адрес электронной почты",
    "mobile": "Номер мобильного телефона",
    "contacts": "Контактные данные (телефоны и электронная почта)",
    "usr_org": "Список организаций, сотрудником которых вы являетесь",
    "id_doc": "Данные документа, удостоверяющего личность",
    "birthplace": "Место рождения",
    "addresses": "Адреса регистрации и проживания",
}
KNOWN_SCOPES = frozenset(SCOPE_DESCRIPTIONS)

# /rs/prns/{oid} fields each scope opens.
PERSON_FIELDS = {
    "fullname": ("firstName", "lastName", "middleName"),
    "birthdate": ("birthDate",),
    "gender": ("gender",),
    "snils": ("snils",),
    "inn": ("inn",),
}
# Contact types (ctts) each scope opens.
CONTACT_TYPES = {"email": ("EML",), "mobile": ("MBT",), "contacts": ("EML", "MBT", "PHN")}


def describe(scopes: list[str]) -> list[str]:
    return [SCOPE_DESCRIPTIONS.get(scope, scope) for scope in scopes]
