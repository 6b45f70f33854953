"""throttle counters reserve attempts: per login, per address and per login from an address

Revision ID: 0005
Revises: 0003

The counters are transient (a 15-minute memory of failed attempts), so the table is recreated
rather than converted: an upgrade forgets the failures of the last minutes, nothing more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("throttle_counters")
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("login", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
    op.create_index(op.f("ix_throttle_counters_login"), "throttle_counters", ["login"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_throttle_counters_login"), table_name="throttle_counters")
    op.drop_table("throttle_counters")
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle_counters")),
    )
