"""The person's own page and support's queue: a session's device, «обращения в техническую службу»

Revision ID: 0016
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0016"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signin_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_agent", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("address", sa.String(length=100), nullable=True))
    op.create_table(
        "support_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.String(length=600), nullable=False),
        sa.Column("organization", sa.String(length=500), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_members.id"], name=op.f("fk_support_requests_staff_id_staff_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_requests")),
    )
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_support_requests_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_support_requests_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("support_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_support_requests_staff_id"))
        batch_op.drop_index(batch_op.f("ix_support_requests_closed_at"))
    op.drop_table("support_requests")
    with op.batch_alter_table("signin_sessions", schema=None) as batch_op:
        batch_op.drop_column("address")
        batch_op.drop_column("user_agent")
