"""The audit hash chain: linked at commit in one total order, anchored, and every tamper named."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy import event as sql_event
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from bridge.services import audit_chain, audit_verification
from bridge.services.audit import AuditContext, record, record_independently
from bridge.services.audit_anchors import trusted_keys_from_jwks
from bridge.services.audit_chain import AuditRecord, anchor_head, chain_at_commit
from bridge.services.audit_settings import AuditSettings, AuditSettingsError, configure_audit
from bridge.services.audit_verification import BreakKind, ChainReport, verify_chain
from bridge.services.signing_keys import generate_private_jwk
from bridge.storage.audit_hash import GENESIS_HASH, link_hash
from bridge.storage.database import build_engine
from bridge.storage.enums import AnchorReason
from bridge.storage.models import AuditAnchor, AuditChainHead, AuditEvent, AuditPersonalDetails, Organization
from tests.support.audit_tamper import as_database_owner

SUPPORT = AuditContext("cli:support")


def write(factory: sessionmaker[Session], count: int, **details: object) -> None:
    for number in range(count):
        with factory() as db, db.begin():
            record(db, SUPPORT, "test.event", "success", number=number, **details)


def verify(factory: sessionmaker[Session], **options: object) -> ChainReport:
    with factory() as db:
        return verify_chain(db, **options)  # type: ignore[arg-type]


def rows(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


@pytest.fixture
def anchored(db_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions that sign an anchor every 4 records."""
    return configure_audit(db_factory, AuditSettings(anchor_every=4))


# --- Linking -------------------------------------------------------------------------------------


def test_records_are_linked_at_commit_in_one_gapless_order(db_factory: sessionmaker[Session]) -> None:
    with db_factory() as db, db.begin():
        first = record(db, SUPPORT, "test.first", "success")
        second = record(db, SUPPORT, "test.second", "success", note="two in one transaction")
        assert first.id is None  # parked: inserted, numbered and hashed when the transaction commits
    write(db_factory, 3)
    chain = rows(db_factory)
    assert [event.seq for event in chain] == [1, 2, 3, 4, 5]
    assert [event.event for event in chain[:2]] == ["test.first", "test.second"]
    assert (first.seq, second.seq) == (1, 2)
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
    assert all(link_hash(event.prev_hash, event) == event.hash for event in chain)
    with db_factory() as db:
        head = db.get(AuditChainHead, 1)
        assert head is not None and (head.seq, head.hash) == (5, chain[-1].hash)
    report = verify(db_factory)
    assert report.intact, report.line()
    assert (report.first_seq, report.last_seq, report.records) == (1, 5, 5)
    assert report.line().startswith("Журнал аудита цел: записи seq 1–5 (5)")


def test_rolled_back_records_leave_no_gap(db_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), db_factory() as db, db.begin():
        record(db, SUPPORT, "test.rolled_back", "success")
        raise RuntimeError("the use case fails")
    with db_factory() as db:
        record(db, SUPPORT, "test.closed_without_commit", "success")
        db.close()
        with db.begin():
            db.add(Organization(name="МБОУ СОШ № 2", kind="school"))
    with db_factory() as db, db.begin():
        record(db, SUPPORT, "test.kept", "success")
        savepoint = db.begin_nested()
        record(db, SUPPORT, "test.in_savepoint", "success")
        savepoint.rollback()
        with db.begin_nested():
            record(db, SUPPORT, "test.in_released_savepoint", "success")
    assert [(event.seq, event.event) for event in rows(db_factory)] == [
        (1, "test.kept"), (2, "test.in_released_savepoint"),
    ]
    assert verify(db_factory).intact


def test_every_session_class_links_its_records_once(db_factory: sessionmaker[Session], engine: Engine) -> None:
    prepared = configure_audit(sessionmaker(engine, expire_on_commit=False), AuditSettings(anchor_every=0))
    chain_at_commit(prepared.class_)
    chain_at_commit(prepared.class_)
    write(prepared, 2)
    with Session(engine) as db, db.begin():  # a class nobody prepared: prepared at its first record
        record(db, SUPPORT, "test.plain_session", "success")
    write(db_factory, 1)
    chain = rows(db_factory)
    assert [(event.seq, event.event) for event in chain] == [
        (1, "test.event"), (2, "test.event"), (3, "test.plain_session"), (4, "test.event"),
    ]
    assert verify(db_factory).intact


def test_details_are_hashed_as_the_database_gives_them_back(db_factory: sessionmaker[Session]) -> None:
    with db_factory() as db, db.begin():
        record(db, SUPPORT, "test.shapes", "success", pair=("a", 1), nested={"b": [1.5, None, True]}, text="ё\n\x00")
    [event] = rows(db_factory)
    assert event.details == {"pair": ["a", 1], "nested": {"b": [1.5, None, True]}, "text": "ё\n\x00"}
    assert verify(db_factory).intact


def test_flat_details_of_any_kind_are_hashed_as_the_database_gives_them_back(
    db_factory: sessionmaker[Session],
) -> None:
    """Plain strings, numbers, booleans and nulls skip the JSON round trip; anything else takes it."""
    with db_factory() as db, db.begin():
        plain = record(db, SUPPORT, "test.plain", "success", text="ё", number=2**70, yes=True, nothing=None)
        shaped = record(db, SUPPORT, "test.shaped", "success", reason=AnchorReason.MANUAL, ratio=0.5, big=True)
        assert type(shaped.details["reason"]) is str  # an enum goes in as the value the database gives back
        with pytest.raises(ValueError):
            record(db, SUPPORT, "test.nan", "success", ratio=float("nan"))
    stored = rows(db_factory)
    assert [event.details for event in stored] == [plain.details, shaped.details]
    assert shaped.details == {"reason": "manual", "ratio": 0.5, "big": True}
    assert verify(db_factory).intact


def test_writers_on_many_threads_share_one_chain(db_factory: sessionmaker[Session]) -> None:
    threads, per_thread = 8, 12
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            for index in range(per_thread):
                if index % 3 == 0:
                    record_independently(db_factory, SUPPORT, "test.refused", "refused", writer=number)
                else:
                    with db_factory() as db, db.begin():
                        record(db, SUPPORT, "test.concurrent", "success", writer=number, index=index)
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=writer, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not failures, failures
    assert [event.seq for event in rows(db_factory)] == list(range(1, threads * per_thread + 1))
    assert verify(db_factory).intact


def statements_of(engine: Engine, action: Callable[[], None]) -> list[str]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    sql_event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        sql_event.remove(engine, "before_cursor_execute", note)
    return seen


def test_an_audited_commit_after_the_process_own_takes_one_claim_and_one_insert(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    """The process links from the head it last wrote; the claim advances the head's hash when the
    head is still that one, and on PostgreSQL inserts the records in the same statement. Otherwise
    (the first commit, another process wrote since) the head's hash is advanced after the insert,
    as the lock found it."""
    first = statements_of(engine, lambda: write(db_factory, 1))
    again = statements_of(engine, lambda: write(db_factory, 1))
    if engine.dialect.name == "sqlite":
        assert [text.split()[0] for text in again] == ["UPDATE", "INSERT"], again
        assert "audit_chain_head" in again[0] and "CASE" in again[0] and "audit_events" in again[1]
    else:
        [claim_and_insert] = again
        assert claim_and_insert.startswith("WITH audit_claim AS (UPDATE audit_chain_head"), claim_and_insert
        assert "CASE" in claim_and_insert and "INSERT INTO audit_events" in claim_and_insert
    assert len(first) == (3 if engine.dialect.name == "sqlite" else 2), first
    other = build_engine(engine.url.render_as_string(hide_password=False))
    try:
        write(sessionmaker(other), 1)  # another process
    finally:
        other.dispose()
    after_other = statements_of(engine, lambda: write(db_factory, 1))
    assert len(after_other) == len(first), after_other
    assert [event.seq for event in rows(db_factory)] == [1, 2, 3, 4]
    assert verify(db_factory).intact


def test_records_ride_with_the_claim_only_while_the_guess_is_likely_to_hold(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    """PostgreSQL: after a guess that missed, or while another audited commit of the process is
    linking (it will move the head first), the claim goes without the records, which cost more
    in a claim that does not insert them; once a guess holds again they ride with it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite claims and inserts in two statements whatever the guess")

    def kinds() -> list[str]:
        return [text.split()[0] for text in statements_of(engine, lambda: write(db_factory, 1))]

    write(db_factory, 1)
    assert kinds() == ["WITH"]
    audit_chain._known_heads[engine] = (1, "f" * 64)  # a guess that misses
    assert kinds() == ["WITH", "WITH"]  # the claim with the records inserts none; then the records
    assert kinds() == ["UPDATE", "INSERT"]  # after a miss: the plain claim, whose guess holds
    assert kinds() == ["WITH"]
    audit_chain._in_flight[engine] = 1  # another thread's audited commit is linking
    try:
        assert kinds() == ["UPDATE", "INSERT"]
    finally:
        audit_chain._in_flight[engine] = 0
    assert kinds() == ["WITH"]
    assert [event.seq for event in rows(db_factory)] == list(range(1, 8))
    assert verify(db_factory).intact


def test_several_records_of_one_commit_are_claimed_inserted_and_numbered_together(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    """On PostgreSQL a commit of up to 8 records after the process's own is one statement (the
    claim inserting them); more take the claim and an insert. Each record gets its own id back,
    and the personal details go beside the right one."""
    write(db_factory, 1)

    def commit(count: int) -> list[AuditRecord]:
        with db_factory() as db, db.begin():
            return [
                record(db, SUPPORT, "test.many", "success", subject_staff_id=number + 1, number=number,
                       personal={"surname": f"Иванова-{number}"} if number == 1 else None)
                for number in range(count)
            ]

    two: list[AuditRecord] = []
    nine: list[AuditRecord] = []
    statements = statements_of(engine, lambda: two.extend(commit(2)))
    if engine.dialect.name == "postgresql":
        assert [text.split()[0] for text in statements] == ["WITH", "INSERT"], statements  # + personal details
    statements = statements_of(engine, lambda: nine.extend(commit(9)))
    if engine.dialect.name == "postgresql":
        assert [text.split()[0] for text in statements] == ["UPDATE", "INSERT", "INSERT"], statements
    stored = {event.id: event for event in rows(db_factory)}
    assert [entry.seq for entry in two + nine] == list(range(2, 13))
    for entry in two + nine:
        assert entry.id is not None and stored[entry.id].seq == entry.seq and stored[entry.id].hash == entry.hash
    with db_factory() as db:
        assert [(row.event_id, row.details) for row in db.scalars(select(AuditPersonalDetails))] == [
            (two[1].id, {"surname": "Иванова-1"}), (nine[1].id, {"surname": "Иванова-1"})
        ]
    assert verify(db_factory).intact


def test_processes_sharing_the_database_keep_one_chain(db_factory: sessionmaker[Session], engine: Engine) -> None:
    """Each process (here: each engine) links from the head it last wrote. Taking turns, every
    commit finds the head moved by the other; writing at once, some find it theirs: one gapless,
    intact chain either way."""
    url = engine.url.render_as_string(hide_password=False)
    others = [build_engine(url) for _ in range(2)]
    try:
        factories = [
            db_factory, *(configure_audit(sessionmaker(other), AuditSettings(anchor_every=0)) for other in others)
        ]
        for turn in range(9):
            write(factories[turn % 3], 1, turn=turn)
        failures: list[BaseException] = []
        barrier = threading.Barrier(6)

        def writer(factory: sessionmaker[Session], number: int) -> None:
            try:
                barrier.wait(timeout=30)
                write(factory, 8, writer=number)
            except BaseException as error:
                failures.append(error)

        workers = [threading.Thread(target=writer, args=(factories[n % 3], n)) for n in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert not failures, failures
    finally:
        for other in others:
            other.dispose()
    assert [event.seq for event in rows(db_factory)] == list(range(1, 9 + 6 * 8 + 1))
    report = verify(db_factory)
    assert report.intact, report.line()


def test_a_head_the_process_wrongly_believes_in_is_not_linked_from(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    """The known head is a guess: after a commit that failed past the claim, or a head rewound by
    someone with the owner's rights, it is not the head, and the records link from the real one."""
    write(db_factory, 2)
    with db_factory() as db:
        real = db.get(AuditChainHead, 1)
        assert real is not None
        real_seq, real_hash = real.seq, real.hash
    for guess in [(real_seq, "f" * 64), (real_seq + 1, real_hash), (real_seq - 1, GENESIS_HASH)]:
        audit_chain._known_heads[engine] = guess
        write(db_factory, 1)
    chain = rows(db_factory)
    assert [event.seq for event in chain] == [1, 2, 3, 4, 5]
    assert chain[2].prev_hash == real_hash
    assert verify(db_factory).intact


def test_the_chain_head_is_the_last_lock_so_other_row_locks_cannot_deadlock_with_it(
    db_factory: sessionmaker[Session],
) -> None:
    """B records, then A locks a row and records, then B wants A's row. Were the head locked at
    record() time, B would hold it while waiting for A's row and A would wait for it at its own
    record(): a deadlock. Locked at commit, A commits and B follows."""
    with db_factory() as db, db.begin():
        db.add(Organization(id=1, name="МБОУ СОШ № 1", kind="school"))
    b_recorded, a_recorded = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def a() -> None:
        try:
            assert b_recorded.wait(timeout=10)
            with db_factory() as db, db.begin():
                db.execute(update(Organization).where(Organization.id == 1).values(district="A"))
                record(db, SUPPORT, "test.a", "success")
                a_recorded.set()
        except BaseException as error:
            failures.append(error)
            a_recorded.set()

    def b() -> None:
        try:
            with db_factory() as db, db.begin():
                record(db, SUPPORT, "test.b", "success")
                db.flush()
                b_recorded.set()
                assert a_recorded.wait(timeout=10)
                db.execute(update(Organization).where(Organization.id == 1).values(district="B"))
        except BaseException as error:
            failures.append(error)
            b_recorded.set()

    workers = [threading.Thread(target=a), threading.Thread(target=b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not failures, failures
    assert [event.event for event in rows(db_factory)] == ["test.a", "test.b"]
    assert verify(db_factory).intact


def test_verifying_while_records_are_written_sees_an_intact_chain(anchored: sessionmaker[Session]) -> None:
    """The head, the anchors and the records are read so that records committed meanwhile never
    look like a deleted tail."""
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def keep_writing() -> None:
        try:
            while not stop.is_set():
                write(anchored, 1)
                written.append(1)
        except BaseException as error:
            failures.append(error)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    reports: list[ChainReport] = []
    deadline = time.monotonic() + 60
    try:
        while (len(written) < 30 or len(reports) < 20) and time.monotonic() < deadline and not failures:
            reports.append(verify(anchored))
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    assert len(written) >= 30 and len(reports) >= 20
    assert [report.line() for report in reports if not report.intact] == []


def test_a_record_committed_between_reading_the_head_and_the_records_waits_for_the_next_check(
    anchored: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving the test above waits for by chance, made to happen: a writer commits after
    verify has read the head and before it reads the records."""
    write(anchored, 5)
    check_anchor, wrote = audit_verification.check_anchor, []

    def check_then_someone_writes(*args: object, **kwargs: object) -> object:
        if not wrote:
            wrote.append(True)
            write(anchored, 1)
        return check_anchor(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_verification, "check_anchor", check_then_someone_writes)
    report = verify(anchored)
    assert wrote and report.intact, report.line()
    assert report.last_seq == 5
    monkeypatch.undo()
    assert verify(anchored).last_seq == 6


# --- Anchors -------------------------------------------------------------------------------------


def test_an_anchor_is_signed_every_n_records_and_on_demand(anchored: sessionmaker[Session]) -> None:
    write(anchored, 9)
    with anchored() as db, db.begin():
        manual = anchor_head(db)
        assert manual is not None and manual.seq == 9
    with anchored() as db:
        anchors = list(db.scalars(select(AuditAnchor).order_by(AuditAnchor.id)))
        by_seq = {event.seq: event.hash for event in db.scalars(select(AuditEvent))}
    assert [(anchor.seq, anchor.reason) for anchor in anchors] == [(4, "periodic"), (8, "periodic"), (9, "manual")]
    assert all(anchor.hash == by_seq[anchor.seq] for anchor in anchors)
    assert all(anchor.jws.count(".") == 2 for anchor in anchors)
    report = verify(anchored)
    assert report.intact and report.anchors == 3
    assert report.last_anchor is not None and report.last_anchor.seq == 9


def test_verifying_from_the_last_anchor_checks_only_what_follows(
    anchored: sessionmaker[Session], engine: Engine
) -> None:
    write(anchored, 10)
    as_database_owner(engine, "UPDATE audit_events SET actor = 'forged' WHERE seq = 2")
    assert verify(anchored).problem is not None
    report = verify(anchored, from_last_anchor=True)
    assert report.intact, report.line()
    assert (report.first_seq, report.last_seq, report.records) == (9, 10, 2)
    as_database_owner(engine, "UPDATE audit_events SET actor = 'forged' WHERE seq = 10")
    problem = verify(anchored, from_last_anchor=True).problem
    assert problem is not None and (problem.kind, problem.seq) == (BreakKind.ALTERED, 10)


def test_no_anchor_is_written_when_the_setting_is_zero(db_factory: sessionmaker[Session]) -> None:
    write(configure_audit(db_factory, AuditSettings(anchor_every=0)), 5)
    with db_factory() as db:
        assert db.scalars(select(AuditAnchor)).all() == []


def test_an_empty_chain_has_nothing_to_anchor(db_factory: sessionmaker[Session]) -> None:
    with db_factory() as db, db.begin():
        assert anchor_head(db) is None
    assert verify(db_factory).intact


def test_anchors_are_checked_against_keys_kept_outside_the_database(anchored: sessionmaker[Session]) -> None:
    write(anchored, 4)
    with anchored() as db:
        [anchor] = db.scalars(select(AuditAnchor)).all()
        published = {"keys": [anchor.public_jwk]}
    assert verify(anchored, trusted_keys=trusted_keys_from_jwks(published)).intact
    stranger = generate_private_jwk("ES256")
    problem = verify(anchored, trusted_keys=trusted_keys_from_jwks({"keys": [stranger]})).problem
    assert problem is not None and problem.kind is BreakKind.ANCHOR_FORGED
    assert "not among the trusted keys" in problem.english


# --- Tampering -----------------------------------------------------------------------------------


def tampered(
    factory: sessionmaker[Session], engine: Engine, *statements: str, count: int = 10
) -> ChainReport:
    write(factory, count)
    as_database_owner(engine, *statements)
    report = verify(factory)
    assert not report.intact
    assert "\n" not in report.line()
    return report


def test_an_updated_record_is_named(anchored: sessionmaker[Session], engine: Engine) -> None:
    report = tampered(anchored, engine, """UPDATE audit_events SET details = '{"number": 99}' WHERE seq = 6""")
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (BreakKind.ALTERED, 6)
    assert "запись seq 6 от" in report.line() and "(UPDATE)" in report.line()
    assert "record seq 6 of" in report.line()


def test_an_updated_and_rehashed_record_breaks_the_next_link(db_factory: sessionmaker[Session], engine: Engine) -> None:
    write(db_factory, 5)
    target = rows(db_factory)[2]
    target.actor = "someone-else"
    forged_hash = link_hash(target.prev_hash, target)
    as_database_owner(
        engine, "UPDATE audit_events SET actor = 'someone-else', hash = :hash WHERE seq = 3", hash=forged_hash
    )
    problem = verify(db_factory).problem
    assert problem is not None and (problem.kind, problem.seq) == (BreakKind.RELINKED, 4)


def rewrite_from(factory: sessionmaker[Session], engine: Engine, seq: int, actor: str) -> None:
    """What someone who knows the format does: change a record and re-hash everything after it,
    head included, so every link holds again."""
    chain = rows(factory)
    statements, params = [], {}
    prev = chain[seq - 2].hash if seq > 1 else GENESIS_HASH
    for event in chain[seq - 1:]:
        if event.seq == seq:
            event.actor = actor
        current = link_hash(prev, event)
        statements.append(
            f"UPDATE audit_events SET actor = :actor_{event.seq}, prev_hash = :prev_{event.seq}, "
            f"hash = :hash_{event.seq} WHERE seq = {event.seq}"
        )
        params.update({f"actor_{event.seq}": event.actor, f"prev_{event.seq}": prev, f"hash_{event.seq}": current})
        prev = current
    statements.append(f"UPDATE audit_chain_head SET hash = '{prev}'")
    as_database_owner(engine, *statements, **params)


def test_a_rewritten_chain_is_caught_by_the_next_signed_anchor(anchored: sessionmaker[Session], engine: Engine) -> None:
    write(anchored, 10)
    rewrite_from(anchored, engine, 6, "someone-else")
    problem = verify(anchored).problem
    assert problem is not None and (problem.kind, problem.seq) == (BreakKind.ANCHOR_MISMATCH, 8)
    assert "подписанным якорем" in problem.russian


def test_a_chain_rewritten_after_the_last_anchor_is_not_caught(anchored: sessionmaker[Session], engine: Engine) -> None:
    """The limit the threat model states: after the last anchor only the chain itself holds."""
    write(anchored, 10)
    rewrite_from(anchored, engine, 9, "someone-else")
    assert verify(anchored).intact


def test_a_deleted_middle_record_is_named(anchored: sessionmaker[Session], engine: Engine) -> None:
    report = tampered(anchored, engine, "DELETE FROM audit_events WHERE seq IN (5, 6)")
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (BreakKind.DELETED, 5)
    assert "нет записей seq 5–6 (между" in report.line() and "records seq 5–6 are missing (between" in report.line()


def test_deleted_oldest_records_are_named(db_factory: sessionmaker[Session], engine: Engine) -> None:
    report = tampered(db_factory, engine, "DELETE FROM audit_events WHERE seq <= 3")
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == (BreakKind.DELETED, 1)


def test_a_deleted_tail_is_named_by_the_head(db_factory: sessionmaker[Session], engine: Engine) -> None:
    report = tampered(db_factory, engine, "DELETE FROM audit_events WHERE seq > 7")
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (BreakKind.TAIL_DELETED, 8)
    assert "голова цепочки доходит до seq 10" in report.line()


def test_a_deleted_tail_with_a_rewound_head_is_named_by_an_anchor(
    anchored: sessionmaker[Session], engine: Engine
) -> None:
    write(anchored, 10)
    [seven] = [event for event in rows(anchored) if event.seq == 7]
    as_database_owner(
        engine, "DELETE FROM audit_events WHERE seq > 7",
        f"UPDATE audit_chain_head SET seq = 7, hash = '{seven.hash}'",
    )
    problem = verify(anchored).problem
    assert problem is not None and (problem.kind, problem.seq) == (BreakKind.TAIL_DELETED, 8)
    assert "подписанный якорь от" in problem.russian and "reaches seq 8" in problem.english


def test_an_emptied_log_is_named(anchored: sessionmaker[Session], engine: Engine) -> None:
    statement = "TRUNCATE audit_events CASCADE" if engine.dialect.name == "postgresql" else "DELETE FROM audit_events"
    report = tampered(anchored, engine, statement)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (BreakKind.TRUNCATED, 1)
    assert "(TRUNCATE)" in report.line()


def test_a_deleted_head_row_is_named_and_writing_continues_after_the_newest_record(
    db_factory: sessionmaker[Session], engine: Engine
) -> None:
    report = tampered(db_factory, engine, "DELETE FROM audit_chain_head", count=3)
    assert report.problem is not None and report.problem.kind is BreakKind.HEAD_MISMATCH
    write(db_factory, 2)
    assert [event.seq for event in rows(db_factory)] == [1, 2, 3, 4, 5]
    assert verify(db_factory).intact


def test_an_edited_anchor_is_named(anchored: sessionmaker[Session], engine: Engine) -> None:
    report = tampered(anchored, engine, "UPDATE audit_anchors SET seq = 3 WHERE seq = 4")
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (BreakKind.ANCHOR_FORGED, 3)


# --- The database refuses changes by itself ------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'forged'",
        "DELETE FROM audit_events",
        "UPDATE audit_anchors SET hash = 'forged'",
        "DELETE FROM audit_anchors",
        "UPDATE audit_chain_head SET seq = seq - 1",
        "UPDATE audit_chain_head SET id = 2",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_events CASCADE",  # CASCADE: audit_personal_details refers to it
        "TRUNCATE audit_anchors",
        "TRUNCATE audit_chain_head",
    ],
)
def test_the_audit_tables_refuse_changes(
    anchored: sessionmaker[Session], engine: Engine, statement: str
) -> None:
    if statement.startswith("TRUNCATE") and engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (a DELETE without WHERE fires the DELETE triggers)")
    write(anchored, 4)
    before = [(event.seq, event.outcome, event.hash) for event in rows(anchored)]
    with pytest.raises(DatabaseError), engine.begin() as connection:
        connection.execute(text(statement))
    assert [(event.seq, event.outcome, event.hash) for event in rows(anchored)] == before
    assert verify(anchored).intact


# --- Settings ------------------------------------------------------------------------------------


def test_settings_are_read_from_the_environment() -> None:
    assert AuditSettings.from_environ({}) == AuditSettings(anchor_every=1000, retention_days=None)
    assert AuditSettings.from_environ(
        {"BRIDGE_AUDIT_ANCHOR_EVERY": "0", "BRIDGE_AUDIT_RETENTION_DAYS": "365"}
    ) == AuditSettings(anchor_every=0, retention_days=365)
    bad: list[Callable[[], object]] = [
        lambda: AuditSettings.from_environ({"BRIDGE_AUDIT_ANCHOR_EVERY": "-1"}),
        lambda: AuditSettings.from_environ({"BRIDGE_AUDIT_RETENTION_DAYS": "0"}),
        lambda: AuditSettings.from_environ({"BRIDGE_AUDIT_RETENTION_DAYS": "year"}),
    ]
    for attempt in bad:
        with pytest.raises(AuditSettingsError, match="BRIDGE_AUDIT_"):
            attempt()
