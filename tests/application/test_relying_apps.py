"""Relying apps: registered, listed and disabled by technical support only."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.relying_apps import (
    NewRelyingApp,
    disable_relying_app,
    list_relying_apps,
    register_relying_app,
)
from bridge.config import Settings
from bridge.services.errors import DomainError
from tests.application.conftest import SUPPORT, as_, audit
from tests.services.directory import Directory


def test_an_app_is_registered_with_its_secret_shown_once_and_then_disabled(
    db_factory: sessionmaker[Session], settings: Settings
) -> None:
    new = NewRelyingApp(name="ИС Контингент", redirect_uris=("https://kontingent.test/cb",), client_id="kontingent")
    registered = register_relying_app(db_factory, SUPPORT, new, secret_key=settings.secret_key)
    assert registered.client_secret and registered.client_secret not in repr(registered)
    assert registered.app.web_origins == ("https://kontingent.test",) and not registered.app.public
    assert [app.client_id for app in list_relying_apps(db_factory, SUPPORT)] == ["kontingent"]
    disabled = disable_relying_app(db_factory, SUPPORT, "kontingent")
    assert disabled.app.disabled_at is not None and disabled.revoked_refresh_tokens == 0
    assert [event.event for event in audit(db_factory)] == ["oidc.client.registered", "oidc.client.disabled"]


def test_staff_acting_at_the_cli_manage_no_apps(
    db_factory: sessionmaker[Session], directory: Directory, settings: Settings
) -> None:
    new = NewRelyingApp(name="Чужое", redirect_uris=("https://app.test/cb",))
    for attempt in (
        lambda: register_relying_app(db_factory, as_(directory, "dept_a"), new, secret_key=settings.secret_key),
        lambda: list_relying_apps(db_factory, as_(directory, "dept_a")),
        lambda: disable_relying_app(db_factory, as_(directory, "dept_a"), "kontingent"),
    ):
        with pytest.raises(DomainError) as refused:
            attempt()
        assert refused.value.code == "support_only"
