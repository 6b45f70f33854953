"""The messages the sink received, newest first, bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any


@dataclass(frozen=True)
class ReceivedMail:
    id: int
    received_at: datetime
    envelope_from: str
    envelope_to: tuple[str, ...]
    subject: str
    sender: str
    text: str
    html: str

    # The JSON shapes are Mailpit's (`/api/v1/…`), so a test or a tester's script reads either sink.

    def summary(self) -> dict[str, Any]:
        return {
            "ID": str(self.id), "Created": self.received_at.isoformat(), "From": _address(self.sender),
            "To": [_address(address) for address in self.envelope_to], "Subject": self.subject,
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.summary(), "Date": self.received_at.isoformat(), "Text": self.text, "HTML": self.html}


def _address(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"Name": name, "Address": address}


def parse_message(message_id: int, envelope_from: str, envelope_to: list[str], raw: bytes) -> ReceivedMail:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return ReceivedMail(
        id=message_id,
        received_at=datetime.now(UTC),
        envelope_from=envelope_from,
        envelope_to=tuple(envelope_to),
        subject=str(parsed.get("Subject", "")),
        sender=str(parsed.get("From", envelope_from)),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
    )


class Mailbox:
    """Thread-safe: the SMTP server runs in its own thread, the inbox page in the event loop."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._messages: OrderedDict[int, ReceivedMail] = OrderedDict()
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, envelope_from: str, envelope_to: list[str], raw: bytes) -> ReceivedMail:
        with self._lock:
            mail = parse_message(self._next_id, envelope_from, envelope_to, raw)
            self._next_id += 1
            self._messages[mail.id] = mail
            while len(self._messages) > self.capacity:
                self._messages.popitem(last=False)
            return mail

    def newest_first(self, recipient: str | None = None) -> list[ReceivedMail]:
        with self._lock:
            messages = list(reversed(self._messages.values()))
        if recipient is None:
            return messages
        wanted = recipient.lower()
        return [mail for mail in messages if wanted in (address.lower() for address in mail.envelope_to)]

    def get(self, message_id: int) -> ReceivedMail | None:
        with self._lock:
            return self._messages.get(message_id)

    def clear(self) -> int:
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            return count
