"""Reading what arrived at a mail sink through Mailpit's JSON API (our mail_sink speaks it too)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ArrivedMail:
    id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str


class MailReader:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def to(self, address: str) -> list[ArrivedMail]:
        """Every message to `address`, newest first, with its bodies."""
        listed = self.http.get("/api/v1/search", params={"query": f"to:{address}"})
        listed.raise_for_status()
        return [self.message(summary["ID"]) for summary in listed.json()["messages"]]

    def message(self, message_id: str) -> ArrivedMail:
        answer = self.http.get(f"/api/v1/message/{message_id}")
        answer.raise_for_status()
        body = answer.json()
        return ArrivedMail(
            id=body["ID"], sender=body["From"]["Address"],
            recipients=tuple(item["Address"] for item in body["To"]),
            subject=body["Subject"], text=body["Text"], html=body["HTML"],
        )

    def count(self) -> int:
        total: int = self.http.get("/api/v1/messages").json()["total"]
        return total
