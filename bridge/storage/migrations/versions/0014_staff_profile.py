"""The person's workplace data: a position per role, the work phone, the e-mail they confirmed

Revision ID: 0014
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("confirmed_email", sa.String(length=320), nullable=True))
        batch_op.add_column(
            sa.Column("profile_confirmed_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("role_assignments", schema=None) as batch_op:
        batch_op.drop_column("position")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("profile_confirmed_at")
        batch_op.drop_column("confirmed_email")
        batch_op.drop_column("phone")
