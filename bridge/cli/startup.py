"""What `bridge serve` checks before uvicorn starts, so that a wrong start ends in one line.

A missing or wrong setting, an unreadable providers file, a database that does not answer or has
no schema, a busy port: each is one line on stderr naming what to fix and a non-zero exit, instead
of a traceback from inside uvicorn's lifespan (or, for the port, after the whole start-up).
"""

from __future__ import annotations

import errno
import socket

from bridge.cli.directory import directory_database
from bridge.config import Settings, SettingsError
from bridge.services.errors import DomainError


def check_port_free(host: str, port: int) -> None:
    """DomainError when something already listens on host:port (or the address is not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT after a restart is not "busy".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise DomainError(
                    "port_in_use", f"Порт {port} на {host} уже занят другим процессом (address already in use)."
                ) from None
            raise DomainError(
                "address_unusable", f"Нельзя слушать {host}:{port}: {error.strerror} (--host, --port)."
            ) from None


def preflight(settings: Settings, host: str, port: int) -> None:
    """Raise SettingsError or DomainError (each printed as one line by `bridge`) if serving would fail."""
    from bridge.upstream.configuration import load_upstream_registry

    settings.check_startable()
    try:
        load_upstream_registry(settings)
    except SettingsError as error:
        raise SettingsError(f"BRIDGE_PROVIDERS_FILE: {error}") from None
    with directory_database(settings):
        pass
    check_port_free(host, port)
