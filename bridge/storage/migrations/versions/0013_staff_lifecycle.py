"""Staff lifecycle: block (when, why, by whom), deactivation and the removal of personal data; personal details of audit records kept apart so that they can be erased

Revision ID: 0013
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("blocked_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("blocked_by", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("deactivated_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deactivation_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("personal_data_removed_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_staff_members_deactivated_at"), ["deactivated_at"], unique=False)
    op.create_table(
        "audit_personal_details",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.id"], name=op.f("fk_audit_personal_details_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_personal_details")),
    )
    with op.batch_alter_table("audit_personal_details", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_personal_details_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_personal_details", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_personal_details_staff_id"))
    op.drop_table("audit_personal_details")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_members_deactivated_at"))
        batch_op.drop_column("personal_data_removed_at")
        batch_op.drop_column("deactivation_reason")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("blocked_by")
        batch_op.drop_column("blocked_reason")
        batch_op.drop_column("blocked_at")
