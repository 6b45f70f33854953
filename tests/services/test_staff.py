"""Registering staff, adding roles, resetting passwords: results, refusals, audit, untouched database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.actors import Actor, actor_for_login, cli_support_actor
from bridge.services.audit import AuditContext
from bridge.services.errors import DomainError
from bridge.services.refusals import audited_refusals
from bridge.services.roles import Role
from bridge.services.signin_recovery import reset_password
from bridge.services.staff import NewStaff, RoleGrant, add_role, register_staff
from bridge.services.staff_cards import staff_card
from bridge.storage.database import transaction
from bridge.storage.models import AuditEvent, StaffMember
from tests.services.directory import VALID_SNILS, Directory, build_directory, row_counts
from tests.support.factories import make_staff

TTL = timedelta(days=30)
TODAY = date.today()


def _deputy(directory: Directory, **changes: Any) -> NewStaff:
    person = NewStaff(
        surname="Петрова", name="Анна", patronymic="Сергеевна", no_patronymic=False,
        grant=RoleGrant(directory.orgs["school_a"], Role.SCHOOL_DEPUTY.value, TODAY),
    )
    return replace(person, **changes)


def _as(db: Session, directory: Directory, key: str) -> Actor:
    return actor_for_login(db, directory.logins[key])


def _register_audited(
    factory: sessionmaker[Session], directory: Directory, actor_key: str, person: NewStaff
) -> str:
    """What the CLI and the web pages do: one transaction, refusals audited independently."""
    with factory() as db:
        context = _as(db, directory, actor_key).audit_context
    with audited_refusals(factory, context, "staff.register", role=person.grant.role), transaction(factory) as db:
        return register_staff(db, _as(db, directory, actor_key), person, credential_ttl=TTL).staff.login


def _events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_registration_stores_the_person_their_role_and_audits_it(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    login = _register_audited(
        db_factory, directory, "director_a",
        _deputy(directory, snils="112-233-445 95", email="petrova@school.test", note="с 1 сентября"),
    )
    assert login == "petrova"
    with db_factory() as db:
        staff = db.scalars(select(StaffMember).where(StaffMember.login == login)).one()
        card = staff_card(db, staff)
    assert card.full_name == "Петрова Анна Сергеевна"
    assert card.snils == VALID_SNILS
    assert card.credential_status == "issued"
    assert [(role.role, role.organization_id, role.start_date) for role in card.roles] == [
        ("school_deputy", directory.orgs["school_a"], TODAY)
    ]
    events = _events(db_factory)
    assert [event.event for event in events] == ["staff.registered", "role.added", "credential.issued"]
    assert {event.actor for event in events} == {directory.logins["director_a"]}
    assert all(event.details["login"] == "petrova" for event in events)
    assert events[0].details["role"] == "school_deputy"
    assert events[0].organization_id == directory.orgs["school_a"]


def test_logins_are_made_unique_with_a_suffix(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    first = _register_audited(db_factory, directory, "director_a", _deputy(directory, surname="Новый"))
    second = _register_audited(
        db_factory, directory, "director_a", _deputy(directory, surname="Новый", name="Олег")
    )
    third = _register_audited(
        db_factory, directory, "director_a", _deputy(directory, surname="Новый", name="Иван")
    )
    assert (first, second, third) == ("novyi", "novyi_1", "novyi_2")


BAD_INPUT = [
    ({"grant": RoleGrant(999_999, "school_deputy", TODAY)}, "unknown_organization", "не найдена"),
    ({"grant": RoleGrant(0, "janitor", TODAY)}, "unknown_role", "Неизвестная роль"),
    ({"surname": "  "}, "surname_required", "фамилию"),
    ({"name": ""}, "name_required", "имя"),
    ({"no_patronymic": True}, "patronymic_conflict", "Без отчества"),
    ({"patronymic": None}, "patronymic_required", "отчество"),
    ({"snils": "112-233-445 96"}, "invalid_snils", "СНИЛС"),
    ({"email": "not-an-address"}, "invalid_email", "почты"),
    (
        {"grant": RoleGrant(-1, "school_deputy", TODAY, TODAY - timedelta(days=1))},
        "end_before_start",
        "раньше",
    ),
]


@pytest.mark.parametrize(("changes", "code", "phrase"), BAD_INPUT)
def test_bad_input_is_refused_audited_and_changes_nothing(
    db_factory: sessionmaker[Session], changes: dict[str, Any], code: str, phrase: str
) -> None:
    directory = build_directory(db_factory)
    grant = changes.get("grant")
    if grant is not None and grant.organization_id == -1:
        changes["grant"] = replace(grant, organization_id=directory.orgs["school_a"])
    before = row_counts(db_factory)
    with pytest.raises(DomainError) as refused:
        _register_audited(db_factory, directory, "director_a", _deputy(directory, **changes))
    assert refused.value.code == code
    assert phrase in refused.value.message
    assert row_counts(db_factory) == before
    refusal = _events(db_factory)[-1]
    assert (refusal.event, refusal.outcome, refusal.details["reason"]) == ("issuance.refused", "refused", code)
    assert refusal.actor == directory.logins["director_a"]


@pytest.mark.parametrize(
    ("actor_key", "org_key", "role", "code"),
    [
        ("dept_a", "school_b", Role.SCHOOL_DIRECTOR, "outside_district"),
        ("director_a", "school_a", Role.SCHOOL_DIRECTOR, "role_not_permitted"),
        ("dept_a", "college_a", Role.SCHOOL_DIRECTOR, "role_not_for_organization_kind"),
        ("dept_a", "school_excluded", Role.SCHOOL_DIRECTOR, "organization_inactive"),
    ],
)
def test_hierarchy_refusals_are_audited_and_change_nothing(
    db_factory: sessionmaker[Session], actor_key: str, org_key: str, role: Role, code: str
) -> None:
    directory = build_directory(db_factory)
    before = row_counts(db_factory)
    person = _deputy(directory, grant=RoleGrant(directory.orgs[org_key], role.value, TODAY))
    with pytest.raises(DomainError) as refused:
        _register_audited(db_factory, directory, actor_key, person)
    assert refused.value.code == code
    assert row_counts(db_factory) == before
    refusal = _events(db_factory)[-1]
    assert refusal.details["reason"] == code
    assert refusal.details["role"] == role.value


def test_duplicate_person_in_the_same_organization_is_refused(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    _register_audited(db_factory, directory, "director_a", _deputy(directory))
    before = row_counts(db_factory)
    with pytest.raises(DomainError) as refused:
        _register_audited(
            db_factory, directory, "director_a",
            _deputy(directory, surname="ПЕТРОВА", grant=RoleGrant(directory.orgs["school_a"], "responsible", TODAY)),
        )
    assert refused.value.code == "duplicate_person"
    assert "petrova" in refused.value.message
    assert row_counts(db_factory) == before


def test_duplicate_snils_is_refused(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    _register_audited(db_factory, directory, "director_a", _deputy(directory, snils=VALID_SNILS))
    before = row_counts(db_factory)
    with pytest.raises(DomainError) as refused:
        _register_audited(
            db_factory, directory, "college_director",
            _deputy(directory, surname="Сидорова", snils="11223344595",
                    grant=RoleGrant(directory.orgs["college_a"], "college_deputy", TODAY)),
        )
    assert refused.value.code == "duplicate_snils"
    assert row_counts(db_factory) == before


def test_same_name_in_another_organization_is_a_different_person(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    _register_audited(db_factory, directory, "director_a", _deputy(directory))
    other = _register_audited(
        db_factory, directory, "college_director",
        _deputy(directory, grant=RoleGrant(directory.orgs["college_a"], "college_deputy", TODAY)),
    )
    assert other == "petrova_1"


def test_adding_a_role_to_someone_who_holds_a_credential_issues_nothing(
    db_factory: sessionmaker[Session],
) -> None:
    directory = build_directory(db_factory)
    login = _register_audited(db_factory, directory, "director_a", _deputy(directory))
    with transaction(db_factory) as db:
        added = add_role(
            db, _as(db, directory, "director_a"), login,
            RoleGrant(directory.orgs["school_a"], "social_pedagogue", TODAY), credential_ttl=TTL,
        )
        assert added.credential is None
        assert [role.role for role in added.staff.roles] == ["school_deputy", "social_pedagogue"]
    assert [event.event for event in _events(db_factory)][-1] == "role.added"


def test_adding_a_role_to_someone_never_issued_issues_their_first_credential(
    db_factory: sessionmaker[Session],
) -> None:
    directory = build_directory(db_factory)
    # The test directory made the deputy without a credential.
    deputy = directory.logins["deputy_a"]
    with transaction(db_factory) as db:
        added = add_role(
            db, _as(db, directory, "director_a"), deputy,
            RoleGrant(directory.orgs["school_a"], "responsible", TODAY), credential_ttl=TTL,
        )
        assert added.credential is not None
        assert added.credential.login == deputy
    assert [event.event for event in _events(db_factory)][-2:] == ["role.added", "credential.issued"]


def test_a_person_with_no_role_is_nobodys_to_claim(db_factory: sessionmaker[Session]) -> None:
    """A role (and with it the first password) for someone no administrator is above: refused."""
    directory = build_directory(db_factory)
    with transaction(db_factory) as db:
        make_staff(db, surname="Иванов", login="ivanov")
    with transaction(db_factory) as db, pytest.raises(DomainError) as refused:
        add_role(
            db, _as(db, directory, "director_a"), "ivanov",
            RoleGrant(directory.orgs["school_a"], "responsible", TODAY), credential_ttl=TTL,
        )
    assert refused.value.code == "staff_not_managed"


def test_duplicate_and_overlapping_roles_are_refused(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    login = _register_audited(db_factory, directory, "director_a", _deputy(directory))
    before = row_counts(db_factory)
    for start in (TODAY, TODAY + timedelta(days=10)):
        with transaction(db_factory) as db, pytest.raises(DomainError) as refused:
            add_role(
                db, _as(db, directory, "director_a"), login,
                RoleGrant(directory.orgs["school_a"], "school_deputy", start), credential_ttl=TTL,
            )
        assert refused.value.code == "duplicate_role"
    assert row_counts(db_factory) == before


def test_a_reset_needs_authority_over_every_role_of_the_person(db_factory: sessionmaker[Session]) -> None:
    directory = build_directory(db_factory)
    # The director of school A may not take over the account of the director himself.
    login = directory.logins["director_a"]
    context = AuditContext(actor=login)
    with (
        pytest.raises(DomainError) as refused,
        audited_refusals(db_factory, context, "credential.reset", login=login),
        transaction(db_factory) as db,
    ):
        reset_password(db, _as(db, directory, "director_a"), login, credential_ttl=TTL)
    assert refused.value.code == "staff_not_managed"
    assert _events(db_factory)[-1].details["reason"] == "staff_not_managed"
    # The department above him may.
    with transaction(db_factory) as db:
        reset = reset_password(db, _as(db, directory, "dept_a"), directory.logins["director_a"],
                               credential_ttl=TTL)
    assert reset.credential.login == directory.logins["director_a"]


def test_unknown_staff_is_refused_with_a_code(db_factory: sessionmaker[Session]) -> None:
    with transaction(db_factory) as db, pytest.raises(DomainError) as refused:
        reset_password(db, cli_support_actor(), "nobody", credential_ttl=TTL)
    assert refused.value.code == "unknown_staff"
    assert "nobody" in refused.value.message


def test_a_login_freed_by_a_purge_is_not_handed_to_the_next_namesake(db_factory: sessionmaker[Session]) -> None:
    """The suffix continues after the namesakes' count instead of filling a gap: a purged person's
    login (still in the audit log and in apps' records) never names someone else."""
    directory = build_directory(db_factory)
    logins = [
        _register_audited(db_factory, directory, "director_a", _deputy(directory, surname="Новый", name=name))
        for name in ("Олег", "Иван", "Пётр")
    ]
    assert logins == ["novyi", "novyi_1", "novyi_2"]
    with db_factory() as db, db.begin():
        purged = db.scalars(select(StaffMember).where(StaffMember.login == "novyi_1")).one()
        for role in purged.roles:
            db.delete(role)
        db.flush()
        db.delete(purged)
    fourth = _register_audited(db_factory, directory, "director_a", _deputy(directory, surname="Новый", name="Анна"))
    assert fourth == "novyi_3"
