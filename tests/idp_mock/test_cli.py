"""The CLI builds its config from flags and prints the URLs and the test persons' logins."""

from __future__ import annotations

import json
from pathlib import Path

from gost_jws import GostPrivateKey, export_public
from idp_mock.cli import build_banner, build_config, parse_args
from idp_mock.persons import PersonDirectory, read_persons_text


def test_banner_lists_urls_and_persons() -> None:
    config = build_config(parse_args([]))
    banner = build_banner(config, PersonDirectory.from_text(read_persons_text(None)))
    for url in (
        "http://127.0.0.1:9000/esia/aas/oauth2/v2/ac",
        "http://127.0.0.1:9000/esia/aas/oauth2/v3/te",
        "http://127.0.0.1:9000/esia/rs/prns/{oid}",
        "http://127.0.0.1:9000/esia/idp/ext/Logout",
        "http://127.0.0.1:9000/esia/",
        "http://127.0.0.1:9000/rsaa/.well-known/openid-configuration",
        "http://127.0.0.1:9000/_mock/faults",
        "http://127.0.0.1:9000/_mock/esia/certificate",
    ):
        assert url in banner
    for login in ("+7(916)1234501", "e.smirnova@school1535.ru", "773-563-247 31", "Test-12345", "simplified"):
        assert login in banner
    assert "bridge-demo" in banner


def test_flags_make_the_config(tmp_path: Path) -> None:
    key = GostPrivateKey.generate()
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps({
        "esia": [{"client_id": "school-portal", "redirect_uris": ["https://portal.test/cb"],
                  "public_key": export_public(key)}],
        "rsaa": [{"client_id": "school-portal", "client_secret": "s", "redirect_uris": ["https://portal.test/cb"],
                  "token_endpoint_auth_method": "client_secret_post"}],
    }))
    args = parse_args(["--port", "9100", "--public-url", "http://mock.test:9100/", "--clients", str(clients),
                       "--no-demo-clients", "--fault", "esia:token_500", "--token-timeout-delay", "3"])
    config = build_config(args)
    assert config.public_base_url == "http://mock.test:9100"
    assert config.esia_issuer == "http://mock.test:9100/esia/"
    assert [c.client_id for c in config.esia_clients] == ["school-portal"]
    assert config.rsaa_clients[0].token_endpoint_auth_methods == ("client_secret_post",)
    assert config.faults == ("esia:token_500",) and config.token_timeout_delay_seconds == 3.0


def test_demo_clients_use_the_shipped_demo_key() -> None:
    config = build_config(parse_args(["--demo-bridge-url", "http://bridge.test"]))
    esia = config.esia_client("bridge-demo")
    assert esia is not None and esia.redirect_uris == ("http://bridge.test/login/callback/esia",)
    assert '"kty": "GOST"' in esia.public_key
    # The mock holds the public half only; the private one is the demo's (tests/demo/test_keys.py).
    assert "d" not in json.loads(esia.public_key)
    rsaa = config.rsaa_client("bridge-demo")
    assert rsaa is not None and rsaa.redirect_uris == ("http://bridge.test/login/callback/rsaa",)
