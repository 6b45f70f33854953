"""`bridge client ...` and `bridge keys ...` end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.clients import check_client_id, mint_client_id
from bridge.services.errors import InvalidInput
from bridge.storage.models import OAuthClient
from tests.op.conftest import App, Person, authorization_request, exchange, get_code
from tests.support.browser import sign_in_browser


def test_registered_app_signs_in_with_the_printed_secret(
    bridge_cli: Any, client: TestClient, settings: Settings, db_factory: sessionmaker[Session], director: Person,
) -> None:
    code, out, _ = bridge_cli(
        "client", "add", "--name", "ИС Контингент", "--redirect-uri", "https://kontingent.test/callback",
        "--post-logout-redirect-uri", "https://kontingent.test/bye", "--client-id", "kontingent",
    )
    assert code == 0
    secret = out.split("client_secret: ")[1].split()[0]
    assert "показывается один раз" in out

    sign_in_browser(client, settings, db_factory, director.staff_id, director.role)
    app = App("kontingent", secret)
    request = authorization_request(app)
    assert exchange(client, app, get_code(client, request), request.verifier).status_code == 200

    with db_factory() as db:
        stored = db.scalar(select(OAuthClient).where(OAuthClient.client_id == "kontingent"))
        assert stored is not None and secret not in str(stored.__dict__)

    code, out, _ = bridge_cli("--json", "client", "list")
    listed = json.loads(out)["clients"]
    assert [entry["client_id"] for entry in listed] == ["kontingent"]
    assert secret not in json.dumps(listed) and "secret_hash" not in json.dumps(listed)

    code, out, _ = bridge_cli("client", "remove", "kontingent")
    assert code == 0 and "отключено" in out
    request = authorization_request(app)
    assert client.get(request.url, follow_redirects=False).status_code == 400


def test_public_app_gets_no_secret(bridge_cli: Any) -> None:
    code, out, _ = bridge_cli(
        "--json", "client", "add", "--name", "ЕКИС", "--redirect-uri", "http://127.0.0.1:7000/cb", "--public",
    )
    assert code == 0
    data = json.loads(out)
    assert data["client_secret"] is None
    assert data["client"]["token_endpoint_auth_method"] == "none"


@pytest.mark.parametrize(
    "uri", ["http://kontingent.test/cb", "https://kontingent.test/cb#frag", "/relative/cb", "ftp://x.test/cb"]
)
def test_unsafe_redirect_uris_are_refused(bridge_cli: Any, uri: str) -> None:
    code, _, err = bridge_cli("client", "add", "--name", "X", "--redirect-uri", uri)
    assert code == 1
    assert "Ошибка" in err


def test_duplicate_client_id_and_unknown_removal_are_refused(bridge_cli: Any) -> None:
    code, _, _ = bridge_cli(
        "client", "add", "--name", "A", "--redirect-uri", "https://a.test/cb", "--client-id", "app-a"
    )
    assert code == 0
    code, out, _ = bridge_cli(
        "--json", "client", "add", "--name", "B", "--redirect-uri", "https://b.test/cb", "--client-id", "app-a"
    )
    assert code == 1 and json.loads(out)["error"] == "client_exists"
    code, out, _ = bridge_cli("--json", "client", "remove", "nobody")
    assert code == 1 and json.loads(out)["error"] == "client_not_found"


def test_keys_rotate_and_list(bridge_cli: Any, client: TestClient) -> None:
    first = {key["alg"]: key["kid"] for key in client.get("/oidc/jwks").json()["keys"]}
    assert set(first) == {"ES256", "RS256"}
    code, out, _ = bridge_cli("--json", "keys", "rotate", "--keep-days", "3")
    assert code == 0
    new = {key["alg"]: key["kid"] for key in json.loads(out)["keys"]}
    assert set(new) == {"ES256", "RS256"} and not set(new.values()) & set(first.values())
    code, out, _ = bridge_cli("--json", "keys", "list")
    states = {key["kid"]: key["state"] for key in json.loads(out)["keys"]}
    assert states == {**dict.fromkeys(new.values(), "active"), **dict.fromkeys(first.values(), "published")}
    code, out, _ = bridge_cli("keys", "list")
    assert "подписывает" in out and "опубликован" in out

    # One algorithm only: the other key keeps signing.
    code, out, _ = bridge_cli("--json", "keys", "rotate", "--alg", "RS256")
    assert [key["alg"] for key in json.loads(out)["keys"]] == ["RS256"]
    code, out, _ = bridge_cli("--json", "keys", "list")
    active = {key["alg"]: key["kid"] for key in json.loads(out)["keys"] if key["state"] == "active"}
    assert active["ES256"] == new["ES256"] and active["RS256"] != new["RS256"]

def test_every_minted_client_id_passes_the_registrations_own_check() -> None:
    minted = [mint_client_id() for _ in range(2000)]
    assert all(check_client_id(client_id) == client_id for client_id in minted)
    assert len(set(minted)) == len(minted)


@pytest.mark.parametrize("client_id", ["-starts-with-dash", "_underscore", "kontingent\n", "ab", "a b c", "x" * 101])
def test_client_ids_outside_the_pattern_are_refused(client_id: str) -> None:
    with pytest.raises(InvalidInput):
        check_client_id(client_id)


def test_client_add_without_an_id_always_registers(bridge_cli: Any) -> None:
    # token_urlsafe ids started with "-" or "_" in 1 of 32 cases, and the check refused them.
    for number in range(50):
        code, out, err = bridge_cli(
            "--json", "client", "add", "--name", f"App {number}", "--redirect-uri", "https://a.test/cb", "--public"
        )
        assert code == 0, err
        assert check_client_id(json.loads(out)["client"]["client_id"])
