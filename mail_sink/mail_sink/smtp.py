"""The SMTP side: aiosmtpd's threaded controller, handing each message to the mailbox."""

from __future__ import annotations

import socket
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from mail_sink.store import Mailbox


class SinkHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mailbox.add(str(envelope.mail_from or ""), [str(to) for to in envelope.rcpt_tos], content)
        return "250 Message accepted for delivery"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports free right now: every probe stays bound until all are chosen.

    One probe at a time may get the port the previous probe has just released, and two servers
    (or a server and a URL a test routes elsewhere) would then share a port.
    """
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (aiosmtpd's readiness check cannot follow port 0)."""
    return free_ports(1, host)[0]


def smtp_controller(mailbox: Mailbox, host: str = "127.0.0.1", port: int | None = None) -> Controller:
    """Not started yet: `.start()` binds `port` (a free one when None) and `.stop()` closes it."""
    return Controller(SinkHandler(mailbox), hostname=host, port=port or free_port(host), ready_timeout=10)
