"""Letters about a person's account, queued in the transaction of what caused them.

The person hears of a new binding and of a changed notice address; their administrators hear of
the patterns in bridge/services/binding_alerts.py. Everything goes through the outbox
(`queue_mail`): sent after the commit, retried while the mail server is down.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bridge.mail.templates import mail_templates
from bridge.services.administrators import administrators_of
from bridge.services.audit import AuditContext, record
from bridge.services.binding_alerts import AlertReason, identity_owner, provider_title, what_happened
from bridge.services.external_identity import ExternalIdentity
from bridge.services.moscow_time import moscow_datetime
from bridge.services.outbox import MailKind, queue_mail, queue_mails
from bridge.services.person_names import full_name, given_names
from bridge.storage.database import transaction
from bridge.storage.models import StaffMember
from bridge.storage.types import utcnow


def binding_created(db: Session, staff: StaffMember, identity: ExternalIdentity, address: str | None) -> None:
    """«Новый способ входа»: the person learns of every binding, theirs or not."""
    if not staff.email:
        return
    content = mail_templates().render(
        MailKind.BINDING_CREATED,
        {
            "name": given_names(staff), "login": staff.login, "when": moscow_datetime(utcnow()),
            "provider": provider_title(identity.provider, identity.provider_kind), "address": address,
        },
    )
    # One plain INSERT (`queue_mails`), not an object flushed on its own: the binding's transaction
    # writes the letter with what it writes anyway.
    queue_mails(db, MailKind.BINDING_CREATED, [(staff.email, content, staff.id)])


def email_changed(db: Session, staff: StaffMember, previous: str) -> None:
    """The old address hears that notices now go elsewhere (whoever changed it)."""
    content = mail_templates().render(
        MailKind.EMAIL_CHANGED,
        {"name": given_names(staff), "login": staff.login, "when": moscow_datetime(utcnow()),
         "new_email": staff.email or ""},
    )
    queue_mail(db, MailKind.EMAIL_CHANGED, previous, content, staff_id=staff.id)


def alert_administrators(
    db: Session,
    audit: AuditContext,
    staff: StaffMember,
    reason: AlertReason,
    *,
    provider: str | None = None,
    owner_login: str | None = None,
    failures: int = 0,
) -> int:
    """Mail each administrator of the person who has an address; audited as `security.alert`."""
    what = what_happened(reason, provider=provider, owner_login=owner_login, failures=failures)
    recipients = [admin for admin in administrators_of(db, staff) if admin.email]
    for admin in recipients:
        assert admin.email is not None
        content = mail_templates().render(
            MailKind.BINDING_ALERT,
            {
                "name": given_names(admin), "when": moscow_datetime(utcnow()), "address": audit.address,
                "what": what, "login": staff.login,
                "staff_name": full_name(staff.surname, staff.name, staff.patronymic),
            },
        )
        queue_mail(db, MailKind.BINDING_ALERT, admin.email, content, staff_id=staff.id)
    record(
        db, audit, "security.alert", "success", subject_staff_id=staff.id, reason=reason.value,
        login=staff.login, administrators=[admin.login for admin in recipients], owner=owner_login,
    )
    return len(recipients)


def alert_refused_binding(
    database: sessionmaker[Session], audit: AuditContext, staff_id: int, identity: ExternalIdentity, code: str
) -> None:
    """After a refused binding rolled back: the administrators hear of it in a transaction of its own."""
    with transaction(database) as db:
        staff = db.get(StaffMember, staff_id)
        if staff is None:
            return
        owner = identity_owner(db, identity)
        alert_administrators(
            db, audit, staff, AlertReason(code),
            provider=provider_title(identity.provider, identity.provider_kind),
            owner_login=owner.login if owner is not None and owner.id != staff.id else None,
        )
