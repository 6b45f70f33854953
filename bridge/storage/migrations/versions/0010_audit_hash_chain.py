"""audit hash chain: seq and hashes on every record (existing ones chained in id order), the chain
head, signed anchors; append-only triggers that also refuse TRUNCATE and allow a DELETE only under
a purge anchor

Revision ID: 0010
Revises: 0007
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import op

import bridge.storage.types
from bridge.storage.audit_hash import GENESIS_HASH, HEAD_ID, link_hash

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None

_BACKFILL_PAGE = 1000

_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("at", bridge.storage.types.UTCDateTime()),
    sa.column("event", sa.String()),
    sa.column("outcome", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("subject_staff_id", sa.Integer()),
    sa.column("organization_id", sa.Integer()),
    sa.column("address", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("seq", sa.Integer()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)

# PostgreSQL: one function refuses every change; a DELETE passes only for a row at or below a purge
# anchor's seq. TRUNCATE fires no row trigger, hence the statement triggers.
_POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM audit_anchors WHERE reason = 'purge' AND seq >= OLD.seq
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()",
    """
    CREATE FUNCTION audit_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE FUNCTION audit_chain_head_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_chain_head only moves forward';
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_chain_head_refuse_change()",
    "CREATE TRIGGER audit_anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchors "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
] + [
    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
    for table in ("audit_events", "audit_anchors", "audit_chain_head")
]

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_anchors WHERE reason = 'purge' AND seq >= OLD.seq) "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head "
    "WHEN NEW.id != OLD.id OR NEW.seq < OLD.seq "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward'); END",
    "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward'); END",
    "CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors "
    "BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END",
    "CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors "
    "BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END",
]


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_append_only_0002(postgresql)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_anchors_seq"), ["seq"], unique=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    head_seq, head_hash = _chain_existing_records()
    op.bulk_insert(
        sa.table("audit_chain_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": HEAD_ID, "seq": head_seq, "hash": head_hash}],
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)


def _chain_existing_records() -> tuple[int, str]:
    """Chain the records written before the chain existed, in id order; (head seq, head hash)."""
    connection = op.get_bind()
    seq, prev_hash, last_id = 0, GENESIS_HASH, 0
    while True:
        page = connection.execute(
            sa.select(_events).where(_events.c.id > last_id).order_by(_events.c.id).limit(_BACKFILL_PAGE)
        ).all()
        if not page:
            return seq, prev_hash
        links: list[dict[str, Any]] = []
        for row in page:
            seq += 1
            record = _Record(
                seq, row.at, row.event, row.outcome, row.actor, row.subject_staff_id, row.organization_id,
                row.address, row.details if row.details is not None else {},
            )
            current = link_hash(prev_hash, record)
            links.append({"row_id": row.id, "new_seq": seq, "new_prev": prev_hash, "new_hash": current})
            prev_hash, last_id = current, row.id
        connection.execute(
            _events.update()
            .where(_events.c.id == sa.bindparam("row_id"))
            .values(seq=sa.bindparam("new_seq"), prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash")),
            links,
        )


class _Record(NamedTuple):
    seq: int
    at: datetime
    event: str
    outcome: str
    actor: str
    subject_staff_id: int | None
    organization_id: int | None
    address: str | None
    details: dict[str, Any]


def _drop_append_only_0002(postgresql: bool) -> None:
    if postgresql:
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_refuse_change()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table in ("audit_events", "audit_anchors", "audit_chain_head"):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER audit_anchors_append_only ON audit_anchors")
        op.execute("DROP TRIGGER audit_chain_head_forward_only ON audit_chain_head")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_chain_head_refuse_change()")
        op.execute("DROP FUNCTION audit_refuse_change()")
        op.execute("DROP FUNCTION audit_events_refuse_change()")
    else:
        for trigger in (
            "audit_events_no_update", "audit_events_no_delete", "audit_chain_head_forward_only",
            "audit_chain_head_no_delete", "audit_anchors_no_update", "audit_anchors_no_delete",
        ):
            op.execute(f"DROP TRIGGER {trigger}")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_anchors_seq"))
    op.drop_table("audit_anchors")
    op.drop_table("audit_chain_head")
    # Back to 0002's triggers.
    if postgresql:
        op.execute(
            """
            CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{action.lower()} BEFORE {action} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
