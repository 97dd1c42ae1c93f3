"""One exception hierarchy: record errors reject a record, transient errors retry a batch."""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One machine-readable reason a record was rejected."""

    code: str
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


class RecordError(ServiceError):
    """The record is bad: give it a FAILED outcome and carry on."""

    def __init__(self, details: list[ErrorDetail]) -> None:
        super().__init__("; ".join(f"{d.code} at {d.path}" for d in details))
        self.details = details


class UndecodableMessage(ServiceError):
    """The message itself cannot be read: it goes to the dead-letter topic."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class TransientError(ServiceError):
    """A dependency is unavailable: back off, retry, commit nothing meanwhile."""


class FencedError(ServiceError):
    """Another consumer stored offsets for a partition this one thought it owned."""
