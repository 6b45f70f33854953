"""/healthz, /readyz and /metrics as a load balancer, a scraper and a stranger see them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_network

import pytest
from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from bridge.app import create_app
from bridge.config import Secret, Settings
from bridge.observability.metrics import count_signin
from bridge.runtime import BridgeRuntime, build_runtime
from bridge.storage.database import build_engine
from bridge.storage.models import SigningKey

LOOPBACK = ("127.0.0.1", 40000)
TOKEN = "metrics-token-" + "t" * 24


def client_of(settings: Settings, runtime: BridgeRuntime, address: tuple[str, int] = LOOPBACK) -> TestClient:
    return TestClient(create_app(settings, runtime=runtime), base_url="https://bridge.test", client=address)


@pytest.fixture
def loopback(settings: Settings, runtime: BridgeRuntime) -> Iterator[TestClient]:
    with client_of(settings, runtime) as client:
        yield client


def test_healthz_says_alive(loopback: TestClient) -> None:
    answer = loopback.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_is_ready_with_a_database_and_a_usable_key(loopback: TestClient) -> None:
    answer = loopback.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    assert answer.json()["database"] == "ok" and answer.json()["signing_key"] == "ok"


def test_readyz_is_503_when_the_database_does_not_answer(settings: Settings, tmp_path: object) -> None:
    unreachable = replace(settings, database_url="postgresql://nobody@127.0.0.1:1/none")
    engine = build_engine(unreachable.database_url)
    runtime = build_runtime(unreachable, engine=engine)
    app = create_app(unreachable, runtime=runtime)
    # No lifespan: it would try to make keys in the missing database.
    client = TestClient(app, base_url="https://bridge.test", client=LOOPBACK)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "not_ready" and answer.json()["database"] == "unreachable"
    engine.dispose()


def test_readyz_is_503_when_the_signing_key_does_not_unwrap(
    loopback: TestClient, engine: Engine
) -> None:
    assert loopback.get("/readyz").status_code == 200
    with engine.begin() as connection:
        # A key wrapped under a key-encryption key this bridge does not have (a restore without the KEK).
        connection.execute(update(SigningKey).values(kek_id="lost-kek", plaintext_jwk=None))
    answer = loopback.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["signing_key"] == "unusable"


def test_metrics_from_the_loopback(loopback: TestClient) -> None:
    count_signin("esia", "signed_in")
    answer = loopback.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert 'bridge_signins_total{outcome="signed_in",provider="esia",reason=""}' in answer.text
    assert 'bridge_mail_outbox{state="pending"} 0.0' in answer.text
    assert "bridge_db_pool_connections" in answer.text


def test_metrics_are_not_there_for_a_stranger(settings: Settings, runtime: BridgeRuntime) -> None:
    with client_of(settings, runtime, ("203.0.113.9", 40000)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "bridge_" not in answer.text


def test_a_forwarded_header_from_an_untrusted_peer_does_not_open_metrics(
    settings: Settings, runtime: BridgeRuntime
) -> None:
    with client_of(settings, runtime, ("203.0.113.9", 40000)) as client:
        answer = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert answer.status_code == 404


def test_metrics_with_a_token_want_the_token(settings: Settings, runtime: BridgeRuntime) -> None:
    guarded = replace(
        settings, metrics_networks=(ip_network("0.0.0.0/0"),), metrics_token=Secret(TOKEN)
    )
    with client_of(guarded, runtime, ("198.51.100.7", 40000)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 404
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_switched_off_for_everyone(settings: Settings, runtime: BridgeRuntime) -> None:
    closed = replace(settings, metrics_networks=())
    with client_of(closed, runtime) as client:
        assert client.get("/metrics").status_code == 404
