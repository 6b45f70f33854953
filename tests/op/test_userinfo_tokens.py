"""Userinfo takes only a live access token of ours, checked at every call (RFC 9068 §4, RFC 6750),
and a call it answers reads one row set and writes nothing: no transaction is committed for it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bridge.config import Settings
from bridge.services.signing_keys import private_jwk
from bridge.storage.enums import OrganizationKind
from bridge.storage.models import AuditEvent, Organization, SigningKey
from tests.op.conftest import App, Person, signed_in_tokens
from tests.support.keys import keyring_of

ISSUER = "https://bridge.test"


def _userinfo(client: TestClient, access_token: str) -> Any:
    return client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _our_key(db_factory: sessionmaker[Session], settings: Settings) -> Any:
    with db_factory() as db:
        record = db.scalars(select(SigningKey).where(SigningKey.alg == "ES256", SigningKey.retired_at.is_(None))).one()
        return ECKey.import_key(private_jwk(record, keyring_of(settings)))


def _refusals(db_factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with db_factory() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.event == "oidc.userinfo.refused").order_by(AuditEvent.id)
        ).all()
        return [dict(event.details) for event in events]


def test_userinfo_refuses_every_token_but_a_live_access_token_of_ours(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    good = tokens["access_token"]
    assert _userinfo(client, good).status_code == 200
    claims = json.loads(jws.extract_compact(good.encode()).payload)
    key = _our_key(db_factory, settings)
    header = {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}

    def ours(header: dict[str, Any] = header, **changes: Any) -> str:
        """The good token's claims, `changes` made (None: left out), signed with our own key."""
        changed = {name: value for name, value in {**claims, **changes}.items() if value is not None}
        return jwt.encode(header, changed, key, algorithms=["ES256"])

    def signed(payload: bytes) -> str:
        """Any bytes as the payload, signed with our own key."""
        return jws.serialize_compact(header, payload, key, algorithms=["ES256"])

    now = int(time.time())
    stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": key.kid})
    refused = {
        "expired": ours(exp=now - 1, iat=now - 600),
        "issued in the future": ours(iat=now + 600),
        "for another audience": ours(aud=[confidential_app.client_id]),
        "for another resource": ours(aud="https://evil.test/userinfo"),
        "another issuer": ours(iss="https://evil.test"),
        "no exp": ours(exp=None),
        "exp not a number": ours(exp=str(now + 600)),
        "no jti": ours(jti=None),
        "no client_id": ours(client_id=None),
        "no sub": ours(sub=None),
        "blank scope": ours(scope=""),
        "an id_token's type": ours({**header, "typ": "JWT"}),
        "no type": ours({"alg": "ES256", "kid": key.kid}),
        "someone else's key under our kid": jwt.encode(header, claims, stranger, algorithms=["ES256"]),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': key.kid})}.{_b64(claims)}.",
        "HS256 keyed with our public key": jwt.encode(
            {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}, claims,
            OctKey.import_key(json.dumps(key.as_dict(private=False)).encode()), algorithms=["HS256"],
        ),
        "a bad signature": good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB"),
        "the id_token": tokens["id_token"],
        "not yet valid (nbf)": ours(nbf=now + 600),
        "a lower-case jwt type": ours({**header, "typ": "jwt"}),
        "claims that are a JSON array": signed(json.dumps([claims]).encode()),
        "claims that are not UTF-8": signed(b'{"sub":"\xff\xfe"}'),
        "exp NaN": signed(json.dumps({**claims, "exp": float("nan")}).encode()),
    }
    for case, token in refused.items():
        answer = _userinfo(client, token)
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"] == "invalid_token", case
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], case
        assert answer.headers["cache-control"] == "no-store", case
    # A token without the openid scope is ours and valid, but not for userinfo (RFC 6750 §3.1).
    narrow = _userinfo(client, ours(scope="profile"))
    assert narrow.status_code == 403 and narrow.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in narrow.headers["www-authenticate"]

    reasons = [details["reason"] for details in _refusals(db_factory)]
    assert reasons == ["token_invalid"] * len(refused) + ["insufficient_scope"]
    # The real token still answers.
    assert _userinfo(client, good).json()["sub"] == director.subject


def test_userinfo_checks_the_grant_at_every_call_and_audits_in_a_transaction(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, engine: Engine,
) -> None:
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    with _counting(engine) as log:
        for _ in range(3):
            assert _userinfo(client, tokens["access_token"]).status_code == 200
    # Each call reads the grant with its session (revocation is the server's to know), and an
    # answered call writes nothing, so nothing is committed for it.
    assert len([s for s in log["statements"] if "oauth_grants" in s]) == 3, log
    assert len(log["statements"]) == 3 and log["commits"] == 0, log

    revoked = client.post(
        "/oidc/revoke", data={"token": tokens["refresh_token"]},
        auth=(confidential_app.client_id, confidential_app.client_secret or ""),
    )
    assert revoked.status_code == 200
    with _counting(engine) as log:
        answer = _userinfo(client, tokens["access_token"])
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    # A refusal is audited, in a transaction of its own that commits.
    assert log["commits"] == 1, log
    assert [details["reason"] for details in _refusals(db_factory)] == ["grant_revoked"]


@contextmanager
def _counting(engine: Engine) -> Iterator[dict[str, Any]]:
    log: dict[str, Any] = {"statements": [], "commits": 0}

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        log["statements"].append(statement)

    def on_commit(_conn: Any) -> None:
        log["commits"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


def test_an_answered_userinfo_reads_outside_any_transaction_and_returns_its_connection_to_transactions(
    client: TestClient, settings: Settings, db_factory: sessionmaker[Session], confidential_app: App,
    director: Person, engine: Engine,
) -> None:
    """The grant's one SELECT is atomic by itself: on PostgreSQL it runs in autocommit, so psycopg
    sends no BEGIN before it and nothing ends a transaction after it (two round trips fewer); the
    pool gets the connection back out of autocommit, so no later unit of work (an audit record, a
    code's claim) can commit statement by statement. SQLite's driver begins no transaction before
    a SELECT anyway, and there the level is left alone."""
    tokens = signed_in_tokens(client, settings, db_factory, confidential_app, director)
    postgres = engine.dialect.name == "postgresql"
    opened: list[bool] = []
    returned_in_autocommit: list[bool] = []

    def after_statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "oauth_grants" in statement:
            dbapi = conn.connection.dbapi_connection
            opened.append(dbapi.info.transaction_status != 0 if postgres else dbapi.in_transaction)

    def on_checkin(dbapi: Any, _record: Any) -> None:
        returned_in_autocommit.append(bool(dbapi.autocommit) if postgres else dbapi.isolation_level is None)

    event.listen(engine, "after_cursor_execute", after_statement)
    event.listen(engine.pool, "checkin", on_checkin)
    try:
        for _ in range(2):
            assert _userinfo(client, tokens["access_token"]).json()["sub"] == director.subject
    finally:
        event.remove(engine, "after_cursor_execute", after_statement)
        event.remove(engine.pool, "checkin", on_checkin)
    assert opened == [False, False]
    assert returned_in_autocommit and not any(returned_in_autocommit), returned_in_autocommit
    # And a unit of work on the pool's connections is still one: rolled back, it leaves nothing.
    with db_factory() as db:
        before = db.scalar(select(func.count()).select_from(Organization))
        db.add(Organization(name="Школа № 1", kind=OrganizationKind.SCHOOL))
        db.flush()
        db.rollback()
    with db_factory() as db:
        assert db.scalar(select(func.count()).select_from(Organization)) == before
