"""The letters about a new request: Russian, both bodies, what the public typed escaped in HTML."""

from __future__ import annotations

from bridge.mail.templates import MailTemplates
from bridge.services.outbox import MailKind

TYPED = "Гимназия <script>alert(1)</script>"


def test_an_organization_request_letter_escapes_the_name_the_public_typed() -> None:
    letter = MailTemplates().render(
        MailKind.ORGANIZATION_REQUEST_SUBMITTED,
        {"name": "Ольга Ивановна", "organization": TYPED, "inn": "7728168971", "request_id": 7,
         "when": "1 декабря 2026, 10:00"},
    )
    assert letter.subject == "Заявка на включение организации в реестр: ИНН 7728168971"
    assert "<script>" not in letter.html and "&lt;script&gt;" in letter.html
    assert TYPED in letter.text and "bridge org close-request 7" in letter.text


def test_a_registration_request_letter_without_a_page_address_still_names_the_page() -> None:
    letter = MailTemplates().render(
        MailKind.REQUEST_SUBMITTED,
        {"name": "Ольга Ивановна", "organization": "Школа № 1", "requested": "сотрудник",
         "when": "1 декабря 2026, 10:00", "link": None},
    )
    assert "Рассмотрите заявку на странице «Заявки»." in letter.text and "href" not in letter.html
    assert "Здравствуйте, Ольга Ивановна!" in letter.text and "(время московское)" in letter.text
