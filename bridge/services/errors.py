"""Domain errors: a stable machine code and a Russian message a person can act on."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the person or script can act on; never a bug."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            data["details"] = self.details
        return data


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class Conflict(DomainError):
    pass
