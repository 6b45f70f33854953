"""Registration requests and the single-use activation links an approval mails

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("surname", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("patronymic", sa.String(length=200), nullable=True),
        sa.Column("no_patronymic", sa.Boolean(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("requested", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff_members.id"], name=op.f("fk_registration_requests_decided_by_id_staff_members")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_registration_requests_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_members.id"], name=op.f("fk_registration_requests_staff_id_staff_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_requests")),
    )
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_requests_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registration_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_requests_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "activation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["registration_requests.id"],
            name=op.f("fk_activation_links_request_id_registration_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_members.id"], name=op.f("fk_activation_links_staff_id_staff_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_activation_links_token_hash")),
    )
    with op.batch_alter_table("activation_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activation_links_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activation_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_links_staff_id"))
    op.drop_table("activation_links")
    with op.batch_alter_table("registration_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_requests_staff_id"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_status"))
        batch_op.drop_index(batch_op.f("ix_registration_requests_organization_id"))
    op.drop_table("registration_requests")
