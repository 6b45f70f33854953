"""Production ESIA does not echo the nonce: refused by default; with the providers file's explicit
`id_token_nonce = "not_echoed"` accepted, loudly, and every binding then needs the staff card match.

The mock plays production with its `esia_echo_nonce` switch; the bridge reads its providers from
a real TOML file, as `bridge serve` does at start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import Engine, select

from bridge.config import Settings
from bridge.storage.models import AuditEvent
from bridge.upstream.configuration import load_providers_file
from bridge.upstream.registry import UpstreamRegistry
from gost_jws import export_private, export_public
from tests.e2e.world import (
    BRIDGE,
    CLIENT_ID,
    IDP,
    Keys,
    World,
    answer_at_provider,
    authorization_url,
    build_world,
    choose_provider,
    enter_password,
    sign_in_at_provider,
    sign_in_through,
)

# The sign-in cookie over https (the tests' bridge is https://bridge.test).
COOKIE_NAME = "__Host-bridge_sid"

SMIRNOVA = "e.smirnova@school1535.ru"
SMIRNOVA_OID = "1005515483"
REFUSED_TITLE = "Вход не выполнен"
REJECTED = "Ответ Госуслуг не прошёл проверку безопасности"
MISMATCH = "не совпадают с карточкой"

pytestmark = pytest.mark.anyio


def providers_file(folder: Path, keys: Keys, extra: str = "") -> Path:
    (folder / "esia-client.json").write_text(export_private(keys.esia_client), encoding="utf-8")
    (folder / "esia-provider.json").write_text(export_public(keys.esia_provider), encoding="utf-8")
    path = folder / "providers.toml"
    path.write_text(
        f"""
[[provider]]
key = "esia"
kind = "esia"
title = "Госуслуги"
base_url = "{IDP}/esia"
issuer = "{IDP}/esia/"
client_id = "{CLIENT_ID}"
scope = "openid fullname snils email"
client_key_file = "esia-client.json"
provider_key_file = "esia-provider.json"
{extra}
""",
        encoding="utf-8",
    )
    return path


async def production_like(world: World) -> None:
    await world.tester("/_mock/behaviour", {"esia_echo_nonce": False})


def events(world: World, event: str) -> list[dict[str, Any]]:
    with world.db() as db:
        return [row.details for row in db.scalars(select(AuditEvent).where(AuditEvent.event == event))]


@pytest.fixture
def strict(settings: Settings, engine: Engine, keys: Keys, tmp_path: Path) -> World:
    """The default: the nonce is required."""
    return build_world(settings, engine, keys, upstream=load_providers_file(providers_file(tmp_path, keys)))


@pytest.fixture
def relaxed_registry(keys: Keys, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> UpstreamRegistry:
    with caplog.at_level(logging.WARNING, logger="bridge.upstream"):
        return load_providers_file(providers_file(tmp_path, keys, 'id_token_nonce = "not_echoed"'))


@pytest.fixture
def relaxed(settings: Settings, engine: Engine, keys: Keys, relaxed_registry: UpstreamRegistry) -> World:
    """A stand that opted out for production ESIA; BRIDGE_REQUIRE_NAME_MATCH stays off."""
    assert settings.require_name_match is False
    return build_world(settings, engine, keys, upstream=relaxed_registry)


async def first_sign_in(world: World, login: str, order: str) -> httpx.Response:
    async with world.browser() as browser:
        if order == "external_first":
            return await enter_password(browser, await sign_in_through(browser, "Госуслуги", SMIRNOVA), login)
        choose = await enter_password(browser, await browser.get(f"{BRIDGE}/login/first"), login)
        return await sign_in_at_provider(browser, await choose_provider(browser, choose, "Госуслуги"), SMIRNOVA)


# --- without the opt-out -------------------------------------------------------------------------


async def test_by_default_an_id_token_without_the_nonce_is_refused_calmly(strict: World) -> None:
    login = strict.add_staff(surname="Смирнова", name="Елена")
    await production_like(strict)
    async with strict.browser() as browser:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert page.status_code == 502 and page.url.path == "/login/callback/esia"
        assert REFUSED_TITLE in page.text and REJECTED in page.text and "Повторить" in page.text
        assert "Traceback" not in page.text and "nonce" not in page.text
        assert COOKIE_NAME not in browser.cookies
    assert strict.bindings() == []
    [failure] = events(strict, "upstream.failed")
    assert failure["reason"] == "upstream_rejected" and "without nonce" in failure["detail"]
    assert strict.staff(login).password_hash is not None


# --- with the opt-out ----------------------------------------------------------------------------


def test_the_opt_out_is_logged_as_a_warning_naming_the_risk(
    relaxed_registry: UpstreamRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    [warning] = [record for record in caplog.get_records("setup") if record.name == "bridge.upstream.esia"]
    assert warning.levelno == logging.WARNING
    text = warning.getMessage()
    assert "not_echoed" in text and "signed in as that person" in text and "name/СНИЛС match" in text


@pytest.mark.parametrize("order", ["external_first", "local_first"])
async def test_with_the_opt_out_sign_in_works_when_the_card_matches(relaxed: World, order: str) -> None:
    login = relaxed.add_staff(surname="Смирнова", name="Елена", patronymic="Викторовна")
    await production_like(relaxed)
    account = await first_sign_in(relaxed, login, order)
    assert account.url.path == "/account", account.text[:500]
    assert relaxed.bindings() == [(login, "esia", SMIRNOVA_OID)]

    # Later sign-ins go through too, without a nonce.
    async with relaxed.browser() as browser:
        again = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert again.url.path == "/account" and "Смирнова" in again.text
    assert events(relaxed, "upstream.failed") == []


@pytest.mark.parametrize("order", ["external_first", "local_first"])
async def test_with_the_opt_out_a_card_that_does_not_match_is_refused(relaxed: World, order: str) -> None:
    """The compensating control: someone else's injected code cannot bind to this card."""
    login = relaxed.add_staff(surname="Петров", name="Иван")
    await production_like(relaxed)
    page = await first_sign_in(relaxed, login, order)
    assert page.status_code == 400 and REFUSED_TITLE in page.text and MISMATCH in page.text
    assert relaxed.bindings() == []
    assert [event["reason"] for event in events(relaxed, "binding.refused")] == ["identity_mismatch"]
    staff = relaxed.staff(login)
    assert staff.password_hash is not None and staff.credential_used_at is None


async def test_with_the_opt_out_the_card_must_match_even_when_the_nonce_comes_back(relaxed: World) -> None:
    login = relaxed.add_staff(surname="Петров", name="Иван")
    page = await first_sign_in(relaxed, login, "external_first")  # the mock echoes the nonce here
    assert page.status_code == 400 and MISMATCH in page.text
    assert relaxed.bindings() == []


async def test_with_the_opt_out_a_nonce_that_is_present_must_still_be_ours(relaxed: World) -> None:
    relaxed.add_staff(surname="Смирнова", name="Елена")
    await relaxed.fault("esia", "id_token_nonce_other")
    async with relaxed.browser() as browser:
        page = await sign_in_through(browser, "Госуслуги", SMIRNOVA)
        assert REFUSED_TITLE in page.text and REJECTED in page.text

        # And an attacker's changed nonce in the URL, with the provider echoing it back.
        url = await authorization_url(browser, await browser.get(f"{BRIDGE}/login"), "Госуслуги")
        parts = urlsplit(url)
        query = [(k, "attacker-nonce" if k == "nonce" else v) for k, v in parse_qsl(parts.query)]
        async with relaxed.browser() as victim:
            leaked = await answer_at_provider(victim, urlunsplit(parts._replace(query=urlencode(query))), SMIRNOVA)
        refused = await browser.get(f"{BRIDGE}/login/callback/esia", params=leaked)
        assert REFUSED_TITLE in refused.text and REJECTED in refused.text
        assert COOKIE_NAME not in browser.cookies
    assert [f["detail"] for f in events(relaxed, "upstream.failed")] == [
        "id_token nonce differs from this flow's"
    ] * 2
    assert relaxed.bindings() == []
