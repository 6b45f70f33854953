"""The operator's name, support's contacts and the privacy notice: settings shown on every page."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import OperatorSettings, Settings, SettingsError
from bridge.runtime import BridgeRuntime

OPERATOR = OperatorSettings(
    name="МКУ «Центр информатизации образования»", support_phone="+7 (843) 200-00-00",
    support_email="help@edu.example.ru", support_url="https://help.edu.example.ru",
    privacy_text="Мост обрабатывает ФИО, СНИЛС и адрес почты.\n\nДанные хранятся в России.",
)


def _client(settings: Settings, runtime: BridgeRuntime, operator: OperatorSettings) -> TestClient:
    app = create_app(dataclasses.replace(settings, operator=operator), runtime=runtime)
    return TestClient(app, base_url="https://bridge.test")


def test_every_page_names_the_operator_and_support(settings: Settings, runtime: BridgeRuntime) -> None:
    with _client(settings, runtime, OPERATOR) as client:
        # The sign-in page, the public request form, an error page, a page behind sign-in's redirect.
        for path in ("/login", "/register", "/activate/nonsense", "/no-such-page", "/privacy"):
            page = client.get(path).text
            assert "Оператор: МКУ «Центр информатизации образования»." in page, path
            assert 'href="tel:+78432000000"' in page and 'href="mailto:help@edu.example.ru"' in page, path
            assert 'href="https://help.edu.example.ru"' in page and 'href="/privacy"' in page, path
        privacy = client.get("/privacy")
        assert privacy.status_code == 200
        assert "<p>Мост обрабатывает ФИО, СНИЛС и адрес почты.</p>" in privacy.text
        assert "<p>Данные хранятся в России.</p>" in privacy.text


def test_a_privacy_notice_elsewhere_is_linked_and_none_is_not_shown(settings: Settings, runtime: BridgeRuntime) -> None:
    elsewhere = OperatorSettings(privacy_url="https://edu.example.ru/privacy")
    with _client(settings, runtime, elsewhere) as client:
        assert 'href="https://edu.example.ru/privacy"' in client.get("/login").text
        response = client.get("/privacy", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "https://edu.example.ru/privacy"
    with _client(settings, runtime, OperatorSettings()) as client:
        page = client.get("/login").text
        assert "Оператор:" not in page and "Техническая поддержка:" not in page
        assert client.get("/privacy").status_code == 404


def test_operator_settings_come_from_the_environment(tmp_path: Path) -> None:
    notice = tmp_path / "privacy.txt"
    notice.write_text("Текст уведомления.\n", encoding="utf-8")
    settings = Settings.from_environ({
        "BRIDGE_OPERATOR_NAME": "  МКУ   ЦИО ", "BRIDGE_SUPPORT_PHONE": "+7 843 200-00-00",
        "BRIDGE_SUPPORT_EMAIL": "help@edu.example.ru", "BRIDGE_SUPPORT_URL": "https://help.edu.example.ru",
        "BRIDGE_PRIVACY_NOTICE_FILE": str(notice),
    })
    assert settings.operator == OperatorSettings(
        name="МКУ ЦИО", support_phone="+7 843 200-00-00", support_email="help@edu.example.ru",
        support_url="https://help.edu.example.ru", privacy_text="Текст уведомления.",
    )
    for name, value in (("BRIDGE_SUPPORT_URL", "javascript:alert(1)"), ("BRIDGE_PRIVACY_NOTICE_URL", "help"),
                        ("BRIDGE_SUPPORT_EMAIL", "nobody")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_environ({name: value})
