"""The Alembic migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from bridge.services.audit import AuditContext, record
from bridge.storage.database import build_sessionmaker
from bridge.storage.models import Base


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
