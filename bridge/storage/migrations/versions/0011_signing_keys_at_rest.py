"""Signing keys encrypted at rest (public half, KEK id, wrapped private half), one active key per algorithm; an index for purging sessions

Revision ID: 0011
Revises: 0010

The migration cannot wrap existing keys (the key-encryption key is not the database's to know):
their private JWK moves to `plaintext_jwk`, and the first start with a KEK (or `bridge keys
rewrap`) wraps it and clears the column.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import bridge.storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PRIVATE_PARAMETERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Keys retired here because another was active beside them stay published as long as a rotation keeps them.
_KEEP_PUBLISHED = timedelta(days=7)

_keys = sa.table(
    "signing_keys",
    sa.column("kid", sa.String()),
    sa.column("alg", sa.String()),
    sa.column("private_jwk", sa.JSON()),
    sa.column("public_jwk", sa.JSON()),
    sa.column("created_at", bridge.storage.types.UTCDateTime(timezone=True)),
    sa.column("retired_at", bridge.storage.types.UTCDateTime(timezone=True)),
    sa.column("published_until", bridge.storage.types.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_jwk", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("kek_id", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("wrapped_jwk", sa.Text(), nullable=True))

    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(_keys.c.kid, _keys.c.alg, _keys.c.private_jwk, _keys.c.retired_at).order_by(
            _keys.c.created_at.desc(), _keys.c.kid
        )
    ).all()
    active_algorithms: set[str] = set()
    for kid, alg, private_jwk, retired_at in rows:
        values: dict[str, object] = {
            "public_jwk": {name: value for name, value in private_jwk.items() if name not in _PRIVATE_PARAMETERS}
        }
        # Concurrent first-time generation could leave two active keys of one algorithm: the newest signs.
        if retired_at is None and alg in active_algorithms:
            values.update(retired_at=now, published_until=now + _KEEP_PUBLISHED)
        elif retired_at is None:
            active_algorithms.add(alg)
        connection.execute(_keys.update().where(_keys.c.kid == kid).values(**values))

    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.alter_column("public_jwk", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "private_jwk", new_column_name="plaintext_jwk", existing_type=sa.JSON(), nullable=True
        )
        batch_op.create_check_constraint(
            op.f("ck_signing_keys_key_material"), "plaintext_jwk IS NOT NULL OR (wrapped_jwk IS NOT NULL AND kek_id IS NOT NULL)"
        )
    op.create_index(
        "ix_signing_keys_one_active_per_alg", "signing_keys", ["alg"], unique=True,
        sqlite_where=sa.text("retired_at IS NULL"), postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_index(
        op.f("ix_authorization_codes_signin_session_id"), "authorization_codes", ["signin_session_id"], unique=False
    )


def downgrade() -> None:
    connection = op.get_bind()
    wrapped = connection.execute(sa.text("SELECT COUNT(*) FROM signing_keys WHERE plaintext_jwk IS NULL")).scalar_one()
    if wrapped:
        # Unwrapping needs the KEK, and writing private keys back in plaintext is what 0011 exists to end.
        raise RuntimeError(
            f"{wrapped} signing keys are encrypted at rest; an older bridge cannot read them. "
            "Restore a backup taken before the upgrade instead."
        )
    op.drop_index(op.f("ix_authorization_codes_signin_session_id"), table_name="authorization_codes")
    op.drop_index("ix_signing_keys_one_active_per_alg", table_name="signing_keys")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_signing_keys_key_material"), type_="check")
        batch_op.alter_column(
            "plaintext_jwk", new_column_name="private_jwk", existing_type=sa.JSON(), nullable=False
        )
        batch_op.drop_column("wrapped_jwk")
        batch_op.drop_column("kek_id")
        batch_op.drop_column("public_jwk")
