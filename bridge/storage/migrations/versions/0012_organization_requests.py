"""Requests to add an organization to the registry, left on the public registration form for support

Revision ID: 0012
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("inn", sa.String(length=12), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("closing_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_requests")),
    )
    with op.batch_alter_table("organization_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_requests_inn"), ["inn"], unique=False)
        batch_op.create_index(batch_op.f("ix_organization_requests_closed_at"), ["closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("organization_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_requests_closed_at"))
        batch_op.drop_index(batch_op.f("ix_organization_requests_inn"))
    op.drop_table("organization_requests")
