"""The outcome of one record: what happened and why, published to the results topic."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from service.errors import ErrorDetail

OUTCOME_NS = uuid.UUID("3f0c8d1e-6b7a-4f57-9a8e-1c2d3e4f5a6b")


class Status(StrEnum):
    ADDED = "ADDED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    SUPPRESSED = "SUPPRESSED"  # stored, but every valid phone is on a do-not-call list: nothing to dial
    REMOVED = "REMOVED"  # dnc.v1: the number left the list
    ACCEPTED = "ACCEPTED"  # a file import was accepted as a job; each row gets its own outcome later
    ERASED = "ERASED"  # contact.erase: the person's rows are gone, their stored outcomes scrubbed


class ErrorModel(BaseModel):
    code: str
    path: str
    message: str

    @classmethod
    def of(cls, detail: ErrorDetail) -> ErrorModel:
        # built from the service's own, already typed values: nothing to validate
        return cls.model_construct(code=detail.code, path=detail.path, message=detail.message)


class Source(BaseModel):
    topic: str
    partition: int
    offset: int


class Outcome(BaseModel):
    """One per input record. ``outcome_id`` is derived from the event id and record index, so a
    re-sent outcome carries the same id and consumers can de-duplicate."""

    outcome_id: str
    event_id: str
    record_index: int
    dialect: str
    tenant: str | None = None
    campaign: str | None = None
    user_data: str | None = None
    status: Status
    errors: list[ErrorModel] = Field(default_factory=list)
    warnings: list[ErrorModel] = Field(default_factory=list)
    contact: dict[str, Any] | None = None
    dial_list: list[dict[str, Any]] = Field(default_factory=list)
    version: int | None = None
    record_id: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    native: Any = None
    source: Source
    received_at: str
    processed_at: str


def outcome_id(event_id: str, record_index: int) -> str:
    """Deterministic outcome id: the same event and record always give the same id."""
    return str(uuid.uuid5(OUTCOME_NS, f"{event_id}\x1f{record_index}"))
