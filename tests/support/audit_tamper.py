"""Tampering with the audit tables as someone with the database owner's rights would: switch the
append-only triggers off, change what they like, switch them back on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

AUDIT_TABLES = ("audit_events", "audit_anchors", "audit_chain_head")


def as_database_owner(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in AUDIT_TABLES:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for statement in statements:
                connection.execute(text(statement), params)
            for table in AUDIT_TABLES:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            return
        triggers = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit_%'")
        ).all()
        for name, _ in triggers:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        for statement in statements:
            connection.execute(text(statement), params)
        for _, sql in triggers:
            connection.execute(text(sql))
