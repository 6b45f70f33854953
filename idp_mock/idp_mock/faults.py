"""Failures a tester queues for the next matching response (each disappears once it fired), and
lasting behaviours a tester switches on and off (they stay until switched back or reset)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PROVIDERS = ("esia", "rsaa")

CONSENT_FAULTS = ("consent_refused",)
TOKEN_ENDPOINT_FAULTS = ("token_500", "token_timeout", "token_malformed_json")
ID_TOKEN_FAULTS = (
    "id_token_expired",
    "id_token_not_yet_valid",
    "id_token_wrong_aud",
    "id_token_wrong_iss",
    "id_token_bad_signature",
    "id_token_alg_none",
    "id_token_nonce_missing",
    "id_token_nonce_other",
)
KEY_FAULTS = ("key_rotated",)
USERINFO_FAULTS = ("userinfo_wrong_sub",)
FAULTS = CONSENT_FAULTS + TOKEN_ENDPOINT_FAULTS + ID_TOKEN_FAULTS + KEY_FAULTS + USERINFO_FAULTS


class FaultError(ValueError):
    """A fault request the mock does not understand."""


@dataclass
class Behaviour:
    """How the providers behave until a tester switches it back (or ``/_mock/reset``)."""

    # Production ESIA stopped echoing `nonce` in the id_token in November 2022; False plays that.
    esia_echo_nonce: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        known = {name: type(value) for name, value in asdict(self).items()}
        for name, value in changes.items():
            if name not in known:
                raise FaultError(f"unknown behaviour {name!r}; known: {', '.join(known)}")
            if not isinstance(value, known[name]):
                raise FaultError(f"{name} must be a {known[name].__name__}")
        for name, value in changes.items():
            setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueuedFault:
    provider: str
    fault: str
    count: int = 1


class FaultQueue:
    def __init__(self) -> None:
        self._queue: list[QueuedFault] = []

    def add(self, provider: str, fault: str, count: int = 1) -> QueuedFault:
        if provider not in PROVIDERS:
            raise FaultError(f"provider must be one of {PROVIDERS}")
        if fault not in FAULTS:
            raise FaultError(f"fault must be one of {FAULTS}")
        if not isinstance(count, int) or count < 1:
            raise FaultError("count must be a positive integer")
        entry = QueuedFault(provider, fault, count)
        self._queue.append(entry)
        return entry

    def add_spec(self, spec: str) -> None:
        """``provider:fault`` or a bare ``fault`` for both providers (the CLI's ``--fault``)."""
        provider, _, fault = spec.rpartition(":")
        for name in (provider,) if provider else PROVIDERS:
            self.add(name, fault)

    def take(self, provider: str, names: tuple[str, ...]) -> str | None:
        """Consume one of ``names`` queued for ``provider`` (the earliest queued wins)."""
        for entry in self._queue:
            if entry.provider == provider and entry.fault in names:
                entry.count -= 1
                if entry.count == 0:
                    self._queue.remove(entry)
                return entry.fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [asdict(entry) for entry in self._queue]

    def clear(self) -> None:
        self._queue.clear()
