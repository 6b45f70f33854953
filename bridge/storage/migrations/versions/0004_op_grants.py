"""OpenID Provider: server-side grants, sign-in session sid and last activity, per-client alg and origins

Revision ID: 0004
Revises: 0005
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("signin_session_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bridge.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["signin_session_id"], ["signin_sessions.id"], name=op.f("fk_oauth_grants_signin_session_id_signin_sessions")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f("fk_oauth_grants_staff_id_staff_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_grants")),
    )
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_grants_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_grants_signin_session_id"), ["signin_session_id"], unique=False)
    # Families still alive become grants, so their next refresh keeps working at userinfo.
    op.execute(
        "INSERT INTO oauth_grants (id, client_id, staff_id, signin_session_id, created_at, revoked_at) "
        "SELECT family, MIN(client_id), MIN(staff_id), MIN(signin_session_id), MIN(created_at), NULL "
        "FROM refresh_tokens WHERE revoked_at IS NULL GROUP BY family"
    )

    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_token_signed_response_alg", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("web_origins", sa.JSON(), nullable=True))
    op.execute("UPDATE oauth_clients SET web_origins = '[]'")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.alter_column("web_origins", existing_type=sa.JSON(), nullable=False)

    # signin_sessions is referenced by foreign keys, so SQLite must not rebuild it (a batch
    # "move and copy" would fail on existing rows): plain ADD COLUMN with a constant default,
    # backfilled at once; PostgreSQL then drops the defaults.
    op.add_column("signin_sessions", sa.Column("sid", sa.String(length=32), nullable=False, server_default=""))
    op.add_column(
        "signin_sessions",
        sa.Column(
            "last_seen_at",
            bridge.storage.types.UTCDateTime(timezone=True),
            nullable=False,
            server_default="1970-01-01 00:00:00+00:00",
        ),
    )
    connection = op.get_bind()
    sessions = sa.table("signin_sessions", sa.column("id", sa.String()), sa.column("sid", sa.String()))
    for (session_id,) in connection.execute(sa.select(sessions.c.id)).all():
        connection.execute(
            sessions.update().where(sessions.c.id == session_id).values(sid=secrets.token_urlsafe(18))
        )
    op.execute("UPDATE signin_sessions SET last_seen_at = created_at")
    if connection.dialect.name == "postgresql":
        op.alter_column("signin_sessions", "sid", server_default=None)
        op.alter_column("signin_sessions", "last_seen_at", server_default=None)
    op.create_index(op.f("ix_signin_sessions_sid"), "signin_sessions", ["sid"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_signin_sessions_sid"), table_name="signin_sessions")
    op.drop_column("signin_sessions", "last_seen_at")
    op.drop_column("signin_sessions", "sid")

    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("web_origins")
        batch_op.drop_column("id_token_signed_response_alg")

    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_grants_signin_session_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_grants_client_id"))
    op.drop_table("oauth_grants")
