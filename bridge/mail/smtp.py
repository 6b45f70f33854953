"""Sending one message over SMTP with aiosmtplib."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from bridge.mail.settings import MailSettings, SmtpSecurity
from bridge.services.outbox import MailToSend
from bridge.storage.types import utcnow


class MailNotConfigured(RuntimeError):
    """No SMTP host is set: messages wait in the outbox."""


def build_message(mail: MailToSend, sender: str) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the richer part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    # Automated mail: no out-of-office replies to the bridge.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class SmtpTransport:
    """One connection per batch would be faster; one per message keeps failures independent."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    async def send(self, mail: MailToSend) -> None:
        settings = self.settings
        if settings.host is None:
            raise MailNotConfigured("BRIDGE_SMTP_HOST is not set")
        await aiosmtplib.send(
            build_message(mail, settings.sender),
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.security is SmtpSecurity.TLS,
            start_tls=settings.security is SmtpSecurity.STARTTLS,
            username=settings.user,
            password=str(settings.password) if settings.password is not None else None,
            timeout=settings.timeout_seconds,
        )
