"""The Alembic migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DatabaseError

from bridge.services.audit import AuditContext, record
from bridge.services.audit_verification import verify_chain
from bridge.storage.database import build_engine, build_sessionmaker, normalized_url
from bridge.storage.migrate import alembic_config, upgrade
from bridge.storage.models import AuditChainHead, AuditEvent, Base, OAuthClient, OAuthGrant, SignInSession
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_audit_log_refuses_update_and_delete(engine: Engine) -> None:
    factory = build_sessionmaker(engine)
    with factory() as db, db.begin():
        record(db, AuditContext(actor="cli:support"), "test.event", "success", note="kept")
    for statement in ("UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError), engine.begin() as connection:
            connection.execute(text(statement))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT outcome FROM audit_events")).scalar_one() == "success"


@pytest.fixture(params=BACKENDS)
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steps.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    admin = create_engine(normalized_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"bridge_steps_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_op_grants_migration_keeps_live_sessions_and_families(unmigrated_url: str) -> None:
    engine = build_engine(unmigrated_url)
    upgrade(engine, "0002")
    stamp = "2024-01-01 00:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO staff_members (id, subject, surname, name, no_patronymic, login, status, created_at, "
            "session_generation) VALUES (1, 's-1', 'Иванова', 'Мария', false, 'ivanova', 'active', :at, 0)"
        ), {"at": stamp})
        for number in range(3):
            connection.execute(text(
                "INSERT INTO signin_sessions (id, staff_id, session_generation, provider, amr, auth_time, remember, "
                "created_at, expires_at) VALUES (:id, 1, 0, 'esia', '[]', :at, false, :at, :at)"
            ), {"id": f"session-{number}", "at": stamp})
        connection.execute(text(
            "INSERT INTO oauth_clients (client_id, name, token_endpoint_auth_method, redirect_uris, "
            "post_logout_redirect_uris, scope, created_at) VALUES ('app', 'App', 'none', '[]', '[]', 'openid', :at)"
        ), {"at": stamp})
        for number, (family, revoked) in enumerate([("live", None), ("live", None), ("dead", stamp)]):
            connection.execute(text(
                "INSERT INTO refresh_tokens (token_hash, family, client_id, staff_id, signin_session_id, scope, "
                "auth_time, created_at, expires_at, revoked_at) "
                "VALUES (:hash, :family, 'app', 1, 'session-0', 'openid', :at, :at, :at, :revoked)"
            ), {"hash": f"hash-{number}", "family": family, "at": stamp, "revoked": revoked})
    upgrade(engine)
    factory = build_sessionmaker(engine)
    with factory() as db:
        sessions = db.scalars(select(SignInSession)).all()
        assert len({session.sid for session in sessions}) == 3 and all(len(s.sid) >= 22 for s in sessions)
        assert all(session.last_seen_at == session.created_at for session in sessions)
        grants = db.scalars(select(OAuthGrant)).all()
        assert [(grant.id, grant.signin_session_id, grant.revoked_at) for grant in grants] == [
            ("live", "session-0", None)
        ]
        assert db.scalars(select(OAuthClient.web_origins)).one() == []
    engine.dispose()


def test_the_audit_chain_migration_chains_existing_records_in_id_order(unmigrated_url: str) -> None:
    engine = build_engine(unmigrated_url)
    upgrade(engine, "0007")
    with engine.begin() as connection:
        for id_, at, event, details in [
            (7, "2024-01-01 10:00:00.250000+00:00", "credential.issued", '{"reason": "registration"}'),
            (3, "2024-01-01 09:00:00+00:00", "signin.success", '{"provider": "esia", "amr": ["pwd"]}'),
            (12, "2024-01-02 08:30:00.000001+00:00", "signin.refused", "{}"),
        ]:
            connection.execute(text(
                "INSERT INTO audit_events (id, at, event, outcome, actor, subject_staff_id, organization_id, "
                "address, details) VALUES (:id, :at, :event, 'success', 'ivanova', 1, NULL, '127.0.0.1', :details)"
            ), {"id": id_, "at": at, "event": event, "details": details})
    upgrade(engine)
    factory = build_sessionmaker(engine)
    with factory() as db:
        chain = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert [(event.seq, event.id) for event in chain] == [(1, 3), (2, 7), (3, 12)]
        head = db.get(AuditChainHead, 1)
        assert head is not None and (head.seq, head.hash) == (3, chain[-1].hash)
        assert verify_chain(db).intact
    with factory() as db, db.begin():
        record(db, AuditContext(actor="cli:support"), "test.after_migration", "success")
    with factory() as db:
        assert db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == [1, 2, 3, 4]
        assert verify_chain(db).intact

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    with pytest.raises(DatabaseError), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events"))  # 0002's triggers are back
    upgrade(engine)
    with factory() as db:
        assert verify_chain(db).intact
        assert db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == [1, 2, 3, 4]
    engine.dispose()
