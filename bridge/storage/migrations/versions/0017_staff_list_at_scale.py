"""The staff list at the scale of a district: a searchable name key and the indexes its filters use

Revision ID: 0017
Revises: 0012

`search_name` holds «фамилия имя отчество» in the compared form (bridge/storage/search_keys.py),
filled here for the people already registered. The indexes serve the list's order and search
(search_name, id: byte order on PostgreSQL, so a prefix and a page's edge are index ranges), its
status filter, a login's beginning (varchar_pattern_ops on PostgreSQL, whatever the collation),
«ожидают первого входа» (a partial index of unused issued passwords), and the role
filter joined through role_assignments. No extension is needed: the list searches a name by its
beginning, which the btree serves, so pg_trgm (which a production PostgreSQL may lack) is not used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bridge.storage.search_keys import search_name_of

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    column_type = sa.String(length=700, collation="C") if postgres else sa.String(length=700)
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_name", column_type, nullable=False, server_default=""))
    _fill_search_names()
    # Plain CREATE INDEX on both engines: a batch on SQLite would copy staff_members, which the
    # foreign keys pointing at it refuse.
    op.create_index("ix_staff_members_search_name", "staff_members", ["search_name", "id"], unique=False)
    op.create_index("ix_staff_members_status", "staff_members", ["status"], unique=False)
    waiting = sa.text("password_hash IS NOT NULL AND credential_used_at IS NULL")
    op.create_index(
        "ix_staff_members_password_waiting", "staff_members", ["id"], unique=False,
        sqlite_where=waiting, postgresql_where=waiting,
    )
    op.create_index("ix_role_assignments_role", "role_assignments", ["role", "organization_id"], unique=False)
    op.create_index(
        "ix_staff_members_login_pattern", "staff_members", ["login"], unique=False,
        postgresql_ops={"login": "varchar_pattern_ops"},
    )


def _fill_search_names() -> None:
    connection = op.get_bind()
    staff = sa.table(
        "staff_members", sa.column("id", sa.Integer), sa.column("surname", sa.String),
        sa.column("name", sa.String), sa.column("patronymic", sa.String), sa.column("search_name", sa.String),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(staff.c.id, staff.c.surname, staff.c.name, staff.c.patronymic)
            .where(staff.c.id > last).order_by(staff.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            staff.update().where(staff.c.id == sa.bindparam("staff_id")).values(search_name=sa.bindparam("key")),
            [{"staff_id": row.id, "key": search_name_of(row.surname, row.name, row.patronymic)} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_staff_members_login_pattern", table_name="staff_members")
    op.drop_index("ix_role_assignments_role", table_name="role_assignments")
    op.drop_index("ix_staff_members_password_waiting", table_name="staff_members")
    op.drop_index("ix_staff_members_status", table_name="staff_members")
    op.drop_index("ix_staff_members_search_name", table_name="staff_members")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("search_name")
