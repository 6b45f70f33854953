"""Signing keys at rest and in rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from sqlalchemy import Engine, MetaData, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bridge.op import keys as keys_module
from bridge.op.keys import KeyStore
from bridge.services.key_encryption import KeyEncryptionError, KeyEncryptionKey, Keyring
from bridge.services.signing_keys import (
    PRIVATE_PARAMETERS,
    SUPPORTED_ALGORITHMS,
    SigningKeyPolicy,
    generate_private_jwk,
    maintain_signing_keys,
    private_jwk,
    public_jwk,
    rewrap_signing_keys,
)
from bridge.storage.models import AuditEvent, SigningKey
from bridge.storage.types import utcnow

ROTATION = timedelta(days=90)
KEEP = timedelta(hours=2)


def policy_with(*keks: KeyEncryptionKey, rotation: timedelta | None = ROTATION) -> SigningKeyPolicy:
    return SigningKeyPolicy(keyring=Keyring(keks), rotation_period=rotation, keep_published=KEEP)


def private_values(jwk: dict[str, Any]) -> set[str]:
    return {str(value) for name, value in jwk.items() if name in PRIVATE_PARAMETERS}


def assert_no_private_material(engine: Engine, secrets: set[str]) -> None:
    """No column of any table holds a private JWK member, nor any of these private values."""
    assert secrets
    with engine.connect() as connection:
        # The tables the database has (a test may stop the migrations short of the head).
        present = MetaData()
        present.reflect(connection)
        for table in present.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    shown = json.dumps(value, default=str) if not isinstance(value, str) else value
                    assert not any(secret in shown for secret in secrets), f"{table.name}.{column}"
                    parsed = value
                    if isinstance(value, str) and value.startswith("{"):
                        parsed = json.loads(value)
                    if isinstance(parsed, dict):
                        assert not PRIVATE_PARAMETERS & set(parsed), f"{table.name}.{column}"


def add_plaintext_key(db_factory: sessionmaker[Session], alg: str, *, age: timedelta = timedelta(0)) -> dict[str, Any]:
    """A key as the bridge stored it before encryption at rest."""
    jwk = generate_private_jwk(alg)
    with db_factory() as db, db.begin():
        db.add(SigningKey(kid=str(jwk["kid"]), alg=alg, public_jwk=public_jwk(jwk), plaintext_jwk=jwk,
                          created_at=utcnow() - age))
    return jwk


def active_keys(db_factory: sessionmaker[Session]) -> dict[str, list[SigningKey]]:
    with db_factory() as db:
        keys = db.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))).all()
    found: dict[str, list[SigningKey]] = {alg: [] for alg in SUPPORTED_ALGORITHMS}
    for key in keys:
        found[key.alg].append(key)
    return found


def test_new_keys_are_stored_only_wrapped(db_factory: sessionmaker[Session], engine: Engine) -> None:
    policy = policy_with(KeyEncryptionKey.generate())
    done = maintain_signing_keys(db_factory, policy)
    assert len(done.created) == 2
    with db_factory() as db:
        records = db.scalars(select(SigningKey)).all()
        jwks = [private_jwk(record, policy.keyring) for record in records]
    assert {record.kek_id for record in records} == {policy.keyring.primary_id}
    assert all(record.plaintext_jwk is None for record in records)
    assert all(public_jwk(jwk) == record.public_jwk for jwk, record in zip(jwks, records, strict=True))
    assert_no_private_material(engine, set().union(*(private_values(jwk) for jwk in jwks)))


def test_keys_stored_in_plaintext_are_wrapped_at_the_first_start_with_a_kek(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    legacy = [add_plaintext_key(db_factory, alg) for alg in SUPPORTED_ALGORITHMS]
    policy = policy_with(KeyEncryptionKey.generate())
    store = KeyStore(db_factory, policy)
    # The key store's first load wraps them, then signs with them (no new key was needed).
    assert {key.kid for key in store.signing_key("ES256").keys} == {legacy[0]["kid"]}
    assert_no_private_material(engine, set().union(*(private_values(jwk) for jwk in legacy)))
    with db_factory() as db:
        for jwk in legacy:
            record = db.get(SigningKey, jwk["kid"])
            assert record is not None and record.kek_id == policy.keyring.primary_id
            assert private_jwk(record, policy.keyring) == jwk
        wrapped = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.keys.wrapped")).all()
    assert sorted(event.details["kid"] for event in wrapped) == sorted(str(jwk["kid"]) for jwk in legacy)
    # Done once: a second pass finds nothing in plaintext.
    assert maintain_signing_keys(db_factory, policy).wrapped == []


def test_only_one_key_per_algorithm_can_be_active(db_factory: sessionmaker[Session]) -> None:
    policy = policy_with(KeyEncryptionKey.generate())
    maintain_signing_keys(db_factory, policy)
    jwk = generate_private_jwk("ES256")
    wrapped = policy.keyring.wrap(jwk, kid=str(jwk["kid"]), alg="ES256")
    with pytest.raises(IntegrityError), db_factory() as db, db.begin():
        db.add(SigningKey(kid=str(jwk["kid"]), alg="ES256", public_jwk=public_jwk(jwk), kek_id=wrapped.kek_id,
                          wrapped_jwk=wrapped.blob))


def test_a_row_needs_its_private_half_in_one_form_or_the_other(db_factory: sessionmaker[Session]) -> None:
    jwk = generate_private_jwk("ES256")
    with pytest.raises(IntegrityError), db_factory() as db, db.begin():
        db.add(SigningKey(kid=str(jwk["kid"]), alg="ES256", public_jwk=public_jwk(jwk), wrapped_jwk="x"))


def test_a_key_older_than_the_rotation_period_is_replaced_and_stays_published(
    db_factory: sessionmaker[Session],
) -> None:
    policy = policy_with(KeyEncryptionKey.generate())
    old = add_plaintext_key(db_factory, "ES256", age=ROTATION + timedelta(minutes=1))
    young = add_plaintext_key(db_factory, "RS256", age=ROTATION - timedelta(minutes=1))
    store = KeyStore(db_factory, policy)
    signer = store.signing_key("ES256").keys[0]
    assert signer.kid != old["kid"]
    assert store.signing_key("RS256").keys[0].kid == young["kid"]  # not due yet
    published = {key.kid for key in store.verification_keys().keys}
    assert {old["kid"], young["kid"], signer.kid} <= published
    with db_factory() as db:
        retired = db.get(SigningKey, old["kid"])
        assert retired is not None and retired.retired_at is not None and retired.published_until is not None
        assert retired.published_until - retired.retired_at == KEEP
        rotated = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.keys.rotated")).one()
    assert rotated.details == {"kid": signer.kid, "alg": "ES256", "retired_kid": old["kid"], "reason": "schedule",
                               "keep_published_days": 0}
    # Past its publication the old key leaves JWKS.
    with db_factory() as db, db.begin():
        db.execute(update(SigningKey).where(SigningKey.kid == old["kid"])
                   .values(published_until=utcnow() - timedelta(seconds=1)))
    store.reload()
    assert old["kid"] not in {key.kid for key in store.verification_keys().keys}


def test_without_a_rotation_period_keys_rotate_only_on_command(db_factory: sessionmaker[Session]) -> None:
    add_plaintext_key(db_factory, "ES256", age=timedelta(days=1000))
    maintain_signing_keys(db_factory, policy_with(KeyEncryptionKey.generate(), rotation=None))
    assert len(active_keys(db_factory)["ES256"]) == 1
    with db_factory() as db:
        assert len(db.scalars(select(SigningKey).where(SigningKey.alg == "ES256")).all()) == 1


def test_tokens_signed_before_a_rotation_still_verify(db_factory: sessionmaker[Session]) -> None:
    policy = policy_with(KeyEncryptionKey.generate())
    store = KeyStore(db_factory, policy)
    before = jwt.encode({"alg": "ES256"}, {"sub": "before"}, store.signing_key("ES256"), algorithms=["ES256"])
    with db_factory() as db, db.begin():
        db.execute(update(SigningKey).values(created_at=utcnow() - ROTATION - timedelta(seconds=1)))
    store.reload()
    after = jwt.encode({"alg": "ES256"}, {"sub": "after"}, store.signing_key("ES256"), algorithms=["ES256"])
    kid_before = jwt.decode(before, store.verification_keys(), algorithms=["ES256"]).header["kid"]
    kid_after = jwt.decode(after, store.verification_keys(), algorithms=["ES256"]).header["kid"]
    assert kid_before != kid_after


def run_in_parallel(count: int, work: Callable[[], object]) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_workers_creating_and_rotating_at_once_leave_one_active_key_per_algorithm(
    db_factory: sessionmaker[Session],
) -> None:
    policy = policy_with(KeyEncryptionKey.generate())
    for _ in range(3):
        assert run_in_parallel(8, lambda: maintain_signing_keys(db_factory, policy)) == []
        assert all(len(keys) == 1 for keys in active_keys(db_factory).values())
        with db_factory() as db, db.begin():
            db.execute(update(SigningKey).values(created_at=utcnow() - ROTATION - timedelta(seconds=1)))
    with db_factory() as db:
        per_alg = {alg: len(db.scalars(select(SigningKey).where(SigningKey.alg == alg)).all())
                   for alg in SUPPORTED_ALGORITHMS}
        rotations = db.scalars(select(AuditEvent).where(AuditEvent.event == "oidc.keys.rotated")).all()
    # Created once, then rotated exactly once per round after the first: never twice in a round.
    assert per_alg == {"ES256": 3, "RS256": 3}
    assert len(rotations) == 4


def test_rewrapping_moves_every_key_under_the_new_kek_and_old_tokens_still_verify(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    legacy = add_plaintext_key(db_factory, "RS256", age=ROTATION * 2)
    store = KeyStore(db_factory, policy_with(old))  # wraps the plaintext key, rotates it, creates ES256
    token = jwt.encode({"alg": "ES256"}, {"sub": "s"}, store.signing_key("ES256"), algorithms=["ES256"])
    with db_factory() as db, db.begin():
        result = rewrap_signing_keys(db, Keyring([new, old]), new.id)
    assert len(result.rewrapped) == 3 and result.unchanged == []
    with db_factory() as db:
        assert {record.kek_id for record in db.scalars(select(SigningKey))} == {new.id}
    # Only the new KEK configured now: the same keys sign and verify.
    after = KeyStore(db_factory, policy_with(new))
    assert jwt.decode(token, after.verification_keys(), algorithms=["ES256"]).claims["sub"] == "s"
    assert after.signing_key("ES256").keys[0].kid == store.signing_key("ES256").keys[0].kid
    assert legacy["kid"] in {key.kid for key in after.verification_keys().keys}
    with db_factory() as db, db.begin():
        again = rewrap_signing_keys(db, Keyring([new]), new.id)
    assert again.rewrapped == [] and len(again.unchanged) == 3
    with db_factory() as db:
        jwks = [private_jwk(record, Keyring([new])) for record in db.scalars(select(SigningKey))]
    assert_no_private_material(engine, set().union(*(private_values(jwk) for jwk in jwks)))


def test_rewrapping_is_all_or_nothing(db_factory: sessionmaker[Session]) -> None:
    first, second, target = (KeyEncryptionKey.generate() for _ in range(3))
    maintain_signing_keys(db_factory, policy_with(first))
    with db_factory() as db, db.begin():
        db.execute(update(SigningKey).values(retired_at=utcnow(), published_until=utcnow()))
    maintain_signing_keys(db_factory, policy_with(second))
    # The keyring lacks `first`: the keys it wrapped cannot be re-wrapped, so none is.
    with pytest.raises(KeyEncryptionError), db_factory() as db, db.begin():
        rewrap_signing_keys(db, Keyring([target, second]), target.id)
    with db_factory() as db:
        assert {record.kek_id for record in db.scalars(select(SigningKey))} == {first.id, second.id}


def test_a_database_with_keys_under_an_unknown_kek_refuses_to_sign_rather_than_make_new_keys(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    maintain_signing_keys(db_factory, policy_with(KeyEncryptionKey.generate()))
    store = KeyStore(db_factory, policy_with(KeyEncryptionKey.generate()))
    with pytest.raises(KeyEncryptionError):
        store.signing_key("ES256")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM signing_keys")).scalar_one() == 2


def test_made_up_kids_reload_the_keys_at_most_once_a_second(
    db_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kid of an id_token_hint or bearer token is the caller's to choose: a stream of unknown
    kids reloads the keyring once, not once per request; a second later a new key is seen again."""
    store = KeyStore(db_factory, policy_with(KeyEncryptionKey.generate()))
    store.reload()
    loads: list[int] = []
    real = keys_module.maintain_signing_keys
    monkeypatch.setattr(keys_module, "maintain_signing_keys", lambda *a, **k: (loads.append(1), real(*a, **k))[1])
    for number in range(50):
        store.verification_keys(f"made-up-{number}")
    assert len(loads) == 0  # the snapshot was loaded just now
    clock = keys_module.time.monotonic() + keys_module.UNKNOWN_KID_RELOAD_SECONDS
    monkeypatch.setattr(keys_module.time, "monotonic", lambda: clock)
    for number in range(50):
        store.verification_keys(f"made-up-{number}")
    assert len(loads) == 1
