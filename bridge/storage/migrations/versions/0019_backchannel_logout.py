"""Back-channel logout: the apps' logout URIs, the introspection flag, the logout delivery queue

Revision ID: 0019
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0019"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.String(length=1000), nullable=True))
        batch_op.add_column(
            sa.Column(
                "backchannel_logout_session_required", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("introspect_any", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "logout_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=36), nullable=False),
        sa.Column("sid", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logout_deliveries")),
    )
    with op.batch_alter_table("logout_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_logout_deliveries_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_logout_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_logout_deliveries_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("logout_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_logout_deliveries_staff_id"))
        batch_op.drop_index(batch_op.f("ix_logout_deliveries_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_logout_deliveries_client_id"))
    op.drop_table("logout_deliveries")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("introspect_any")
        batch_op.drop_column("backchannel_logout_session_required")
        batch_op.drop_column("backchannel_logout_uri")
