"""Bulk import of staff from a spreadsheet (`bridge staff import FILE [--dry-run]`, «Загрузить из таблицы»).

A dry run reads the file and reports every row; nothing is written. The import writes all rows in
ONE transaction or nothing: a single bad row (found by the check, or by a registration racing
ours) rolls every row back. Nobody gets a password in bulk: a person with an e-mail is mailed an
activation link (the letter of «Выслать ссылку повторно»), the others wait on the list («ожидают
первого входа» is empty for them) for an administrator to issue a password on their card.

The pages upload the file once: the dry run parks its parsed rows on the server for this browser
and administrator under a random id (`FlowKind.STAFF_IMPORT`), and «Загрузить» takes them by one
DELETE … RETURNING: confirmed once, never from data the browser posts again.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bridge.application.principals import Principal, audit_context_of, resolve
from bridge.application.registration import ActivationLinks
from bridge.application.unit_of_work import unit_of_work
from bridge.mail.templates import mail_templates
from bridge.services.activation_links import issue_first_activation_links
from bridge.services.actors import Actor
from bridge.services.audit import record
from bridge.services.errors import Conflict, InvalidInput, NotFound
from bridge.services.flow_state import FlowKind, consume, park
from bridge.services.moscow_time import moscow_datetime, moscow_today
from bridge.services.outbox import MailKind, queue_mails
from bridge.services.staff_import import RowReport, check_rows, planned_staff
from bridge.services.staff_import_files import ImportLimits, SheetRow, read_sheet
from bridge.services.staff_import_writes import register_people
from bridge.storage.database import transaction

__all__ = ["ImportDone", "ImportLimits", "ImportReport", "confirm_import", "import_staff", "prepare_import"]

# Between the dry run and «Загрузить»: enough to read the report, not to forget it for a day.
PARKED_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[RowReport, ...]
    # Set when every row is good and the rows wait on the server for the confirmation (pages only).
    import_id: str | None = None

    @property
    def bad(self) -> tuple[RowReport, ...]:
        return tuple(row for row in self.rows if not row.ok)


@dataclass(frozen=True)
class ImportDone:
    registered: int
    # How many were mailed an activation link; the rest had no e-mail.
    mailed: int
    logins: tuple[str, ...]


def _checked(db: Session, actor: Actor, rows: list[SheetRow]) -> list[RowReport]:
    return check_rows(db, actor, rows, moscow_today())


def prepare_import(
    database: sessionmaker[Session], principal: Principal, filename: str, content: bytes, limits: ImportLimits,
    *, browser_id: str | None = None,
) -> ImportReport:
    """The dry run: every row judged, nothing registered. With `browser_id` (the pages) a clean
    file's rows are parked for `confirm_import`."""
    rows = read_sheet(filename, content, limits)
    with transaction(database) as db:
        actor = resolve(db, principal)
        reports = _checked(db, actor, rows)
        import_id = None
        if browser_id is not None and all(report.ok for report in reports):
            import_id = secrets.token_urlsafe(24)
            parked = {"admin": actor.staff_id, "rows": [asdict(row) for row in rows]}
            park(db, browser_id, FlowKind.STAFF_IMPORT, parked, ttl=PARKED_TTL, key=import_id)
    return ImportReport(rows=tuple(reports), import_id=import_id)


def import_staff(
    database: sessionmaker[Session], principal: Principal, filename: str, content: bytes, limits: ImportLimits,
    links: ActivationLinks,
) -> ImportDone:
    """The CLI's import: the file read, checked and registered in one transaction."""
    rows = read_sheet(filename, content, limits)
    with unit_of_work(database, audit_context_of(principal), "staff.import", rows=len(rows)) as db:
        return _register_all(db, resolve(db, principal), rows, links)


def confirm_import(
    database: sessionmaker[Session], principal: Principal, browser_id: str, import_id: str, links: ActivationLinks
) -> ImportDone:
    """«Загрузить» after a clean dry run: the parked rows, taken once, registered in one transaction."""
    with unit_of_work(database, audit_context_of(principal), "staff.import") as db:
        actor = resolve(db, principal)
        parked = consume(db, browser_id, FlowKind.STAFF_IMPORT, key=import_id)
        if parked is None or parked.get("admin") != actor.staff_id:
            raise NotFound(
                "import_gone", "Эта проверка уже загружена или устарела: загрузите файл ещё раз.",
            )
        rows = [SheetRow(line=int(row["line"]), cells=dict(row["cells"])) for row in parked["rows"]]
        return _register_all(db, actor, rows, links)


def _register_all(db: Session, actor: Actor, rows: list[SheetRow], links: ActivationLinks) -> ImportDone:
    # Checked again inside the writing transaction: the directory may have changed since the dry run.
    bad = [report for report in _checked(db, actor, rows) if not report.ok]
    if bad:
        first = bad[0]
        raise Conflict(
            "import_rows_refused",
            f"Ничего не загружено: ошибок в строках — {len(bad)}, первая в строке {first.line}: {first.errors[0]}",
            bad_rows=len(bad),
        )
    if not rows:
        raise InvalidInput("import_empty", "В файле нет ни одной строки с сотрудником.")
    today: date = moscow_today()
    try:
        people = register_people(db, actor, planned_staff(db, rows, today))
    except IntegrityError:
        # Someone registered one of these people (or took a login) since our check: nothing of ours stays.
        raise Conflict(
            "import_raced", "Ничего не загружено: пока шла загрузка, часть сотрудников зарегистрировали. "
            "Проверьте файл ещё раз.",
        ) from None
    # In bulk as well: a link per person with an e-mail, and its letter, each one INSERT.
    mailed_people = [person for person in people if person.email]
    issued = issue_first_activation_links(db, [(person.staff_id, str(person.email)) for person in mailed_people])
    templates = mail_templates()
    letters = [
        (str(person.email), templates.render(
            MailKind.ACTIVATION_LINK,
            {"name": person.given_names, "login": person.login, "link": links.link(link.token),
             "expires": moscow_datetime(link.expires_at)},
        ), person.staff_id)
        for person, link in zip(mailed_people, issued, strict=True)
    ]
    mailed = queue_mails(db, MailKind.ACTIVATION_LINK, letters)
    logins = [person.login for person in people]
    record(db, actor.audit_context, "staff.imported", "success", rows=len(logins), mailed=mailed)
    return ImportDone(registered=len(logins), mailed=mailed, logins=tuple(logins))
