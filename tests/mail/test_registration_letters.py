"""The letters of the registration requests: Russian, both bodies, the link where it belongs, input escaped."""

from __future__ import annotations

import pytest

from bridge.mail.templates import MailTemplates
from bridge.services.outbox import MailKind

LINK = "https://bridge.example/activate?token=abc_DEF-123"
VALUES = {
    MailKind.REQUEST_APPROVED: {"name": "Мария Ивановна", "organization": "Школа № 1", "role_title": "Завуч школы",
                                "login": "petrova", "link": LINK, "expires": "2 декабря 2026, 10:00"},
    MailKind.REQUEST_ROLE_GRANTED: {"name": "Мария Ивановна", "organization": "Школа № 1",
                                    "role_title": "Завуч школы", "login": "petrova"},
    MailKind.REQUEST_REJECTED: {"name": "Мария Ивановна", "organization": "Школа № 1",
                                "reason": "Нет такого сотрудника <script>alert(1)</script>"},
    MailKind.ACTIVATION_LINK: {"name": "Мария Ивановна", "login": "petrova", "link": LINK,
                               "expires": "2 декабря 2026, 10:00"},
}


@pytest.mark.parametrize("kind", list(VALUES))
def test_each_letter_renders_in_russian_with_both_bodies(kind: MailKind) -> None:
    letter = MailTemplates().render(kind, VALUES[kind])
    assert letter.subject and "\n" not in letter.subject
    assert "Здравствуйте, Мария Ивановна!" in letter.text and "Мария Ивановна" in letter.html
    carries_link = "link" in VALUES[kind]
    assert (LINK in letter.text) is carries_link
    assert (f'href="{LINK}"' in letter.html) is carries_link
    if carries_link:
        assert "Госуслуг" in letter.text and "(время московское)" in letter.text


def test_what_an_administrator_typed_is_escaped_in_html_and_kept_in_text() -> None:
    letter = MailTemplates().render(MailKind.REQUEST_REJECTED, VALUES[MailKind.REQUEST_REJECTED])
    assert "<script>" not in letter.html and "&lt;script&gt;" in letter.html
    assert "Нет такого сотрудника <script>" in letter.text
