"""A closed request to technical support loses what the person typed after the requests' retention;
an open one keeps it, however old (bridge/services/request_retention.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.services.housekeeping import RetentionPolicy, count_purgeable, purge_until_done
from bridge.storage.database import transaction
from bridge.storage.models import SupportRequest
from bridge.storage.types import utcnow

DAY = timedelta(days=1)


def test_closed_support_requests_are_blanked_after_the_retention(db_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(db_factory) as db:
        for name, closed in (("Закрыта Давно", -91 * DAY), ("Закрыта Вчера", -DAY), ("Открыта Давно", None)):
            db.add(SupportRequest(
                kind="cannot_sign_in", full_name=name, organization="Школа № 1", email="a@school.test",
                message="Не могу войти", created_at=now - 200 * DAY, closed_at=now + closed if closed else None,
                outcome="answered" if closed else None, outcome_note="Ответ" if closed else None,
            ))
    policy = RetentionPolicy(request_retention=90 * DAY)
    assert count_purgeable(db_factory, policy, now=now).counts["support_requests.personal_data"] == 1
    report = purge_until_done(db_factory, policy, batch_size=500, now=now)
    assert report.counts["support_requests.personal_data"] == 1
    with db_factory() as db:
        rows = {(row.full_name, row.organization, row.email, row.message, row.outcome_note, row.outcome)
                for row in db.scalars(select(SupportRequest))}
    assert rows == {
        ("", None, None, None, None, "answered"),
        ("Закрыта Вчера", "Школа № 1", "a@school.test", "Не могу войти", "Ответ", "answered"),
        ("Открыта Давно", "Школа № 1", "a@school.test", "Не могу войти", None, None),
    }
    # Nothing left to do: a blanked row no longer qualifies.
    assert count_purgeable(db_factory, policy, now=now).counts["support_requests.personal_data"] == 0
