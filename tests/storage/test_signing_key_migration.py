"""Migration 0011: keys stored in plaintext get their public half, one stays active per algorithm,
and the first start with a KEK leaves no private key material in the database."""

from __future__ import annotations

import json

from sqlalchemy import text

from bridge.services.key_encryption import KeyEncryptionKey, Keyring
from bridge.services.signing_keys import SigningKeyPolicy, generate_private_jwk, maintain_signing_keys
from bridge.storage.database import build_engine, build_sessionmaker
from bridge.storage.migrate import upgrade
from tests.services.test_signing_keys import assert_no_private_material, private_values
from tests.storage.test_migrations import unmigrated_url  # noqa: F401 - the fixture


def test_plaintext_keys_survive_the_migration_and_are_wrapped_at_the_next_start(
    unmigrated_url: str,  # noqa: F811
) -> None:
    engine = build_engine(unmigrated_url)
    upgrade(engine, "0007")
    # Two workers once generated a first ES256 key at the same moment: both are active.
    older, newer, rsa = generate_private_jwk("ES256"), generate_private_jwk("ES256"), generate_private_jwk("RS256")
    with engine.begin() as connection:
        for jwk, created in ((older, "2024-01-01 00:00:00+00:00"), (newer, "2024-01-01 00:00:01+00:00"),
                             (rsa, "2024-01-01 00:00:00+00:00")):
            connection.execute(
                text("INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES (:kid, :alg, :jwk, :at)"),
                {"kid": jwk["kid"], "alg": jwk["alg"], "jwk": json.dumps(jwk), "at": created},
            )
    upgrade(engine, "0011")
    with engine.connect() as connection:
        rows = {row.kid: row for row in connection.execute(
            text("SELECT kid, public_jwk, plaintext_jwk, retired_at FROM signing_keys"))}
    public = rows[str(newer["kid"])].public_jwk
    public = json.loads(public) if isinstance(public, str) else public
    assert public == {name: value for name, value in newer.items() if name != "d"}
    assert rows[str(newer["kid"])].retired_at is None and rows[str(rsa["kid"])].retired_at is None
    assert rows[str(older["kid"])].retired_at is not None
    assert all(row.plaintext_jwk is not None for row in rows.values())

    # The next start runs on the newest schema (later migrations may add columns the models read).
    upgrade(engine)
    maintain_signing_keys(
        build_sessionmaker(engine), SigningKeyPolicy(Keyring([KeyEncryptionKey.generate()]))
    )
    assert_no_private_material(engine, private_values(older) | private_values(newer) | private_values(rsa))
    engine.dispose()
