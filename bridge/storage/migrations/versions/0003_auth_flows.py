"""server-side sign-in ceremonies: auth_flows

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("browser", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_flows")),
        sa.UniqueConstraint("browser", "kind", "key", name=op.f("uq_auth_flows_browser_kind_key")),
    )
    with op.batch_alter_table("auth_flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_flows_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_auth_flows_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auth_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_flows_staff_id"))
        batch_op.drop_index(batch_op.f("ix_auth_flows_expires_at"))
    op.drop_table("auth_flows")
