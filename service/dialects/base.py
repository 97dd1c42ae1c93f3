"""What a dialect plug-in provides: parse an envelope into records, render the native response."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from service.catalog.model import Campaign, Catalog
from service.errors import ErrorDetail
from service.model.contact import ContactRecord, MatchOn, Phone
from service.model.dnc import DncChange
from service.model.erase import EraseRecord
from service.model.job import ImportRequest
from service.model.outcome import Outcome
from service.pipeline.envelope import Envelope


@dataclass(slots=True)
class Rejected:
    """A record the dialect could not turn into a :class:`ContactRecord`."""

    errors: list[ErrorDetail]
    tenant: str | None = None
    campaign: str | None = None
    user_data: str | None = None


def matched_by_phone(campaign: Campaign | None) -> bool:
    """Whether the campaign's match policy falls back to the phone when a record has no UserData."""
    return campaign is not None and campaign.match.on is MatchOn.USER_DATA_OR_PHONE


def contact_key(given: str | None, phones: Sequence[Phone], campaign: Campaign | None) -> str:
    """A vendor record's key: its UserData as given; without one, its first phone number as given (the
    seeds' rule), or none when the campaign matches on the phone (``user_data_or_phone``): the store then
    takes the key of the customer holding one of its normalised numbers, else its first valid number."""
    if given or matched_by_phone(campaign):
        return given or ""
    return phones[0].number if phones else ""


KEY_NS = uuid.UUID("5d1f3a2e-8c4b-4e71-a6f0-2b9d7c3e1a54")


def generated_key(scope: str) -> str:
    """The key of a record the client gave none (dialler without UserData, importWS without the
    campaign's key field): derived from where the record came from (its event, or its import job, and
    its position there), so the same record replayed is the same contact and no two records share it."""
    return f"auto-{uuid.uuid5(KEY_NS, scope)}"


def record_scope(envelope: Envelope, index: int) -> str:
    """Where a record of an event came from, for :func:`generated_key`."""
    return f"event\x1f{envelope.event_source}\x1f{envelope.event_id}\x1f{index}"


AUTH_FAILED = ErrorDetail("auth.failed", "/", "authentication failed")  # the same for every way a login fails


@dataclass(frozen=True, slots=True)
class Login:
    """A credential the dialect checked for this record (importWS): the pipeline counts failures per
    user in Postgres and refuses a user locked by too many of them, even with the right password."""

    tenant: str
    login: str
    ok: bool
    stored_hash: str | None = None  # set with ``rehash``: the hash it replaces
    rehash: str | None = None  # an argon2id hash to store instead of a legacy one
    warnings: tuple[ErrorDetail, ...] = ()  # what a failed login reports besides AUTH_FAILED


@dataclass(slots=True)
class Parsed:
    """One input record: ready for the store, a file to import (a job), or rejected; warnings either way."""

    record: ContactRecord | Rejected | ImportRequest
    warnings: list[ErrorDetail] = field(default_factory=list)
    change: DncChange | None = None  # a do-not-call change (dnc.v1); ``record`` then only names it
    login: Login | None = None
    erase: EraseRecord | None = None  # a person to erase (contact.erase); ``record`` then only names it

    @classmethod
    def dnc(cls, change: DncChange) -> Parsed:
        return cls(Rejected([], change.tenant or None, None, change.phone), change=change)

    @classmethod
    def erasure(cls, erase: EraseRecord) -> Parsed:
        return cls(Rejected([], erase.tenant, None, erase.subject), erase=erase)


class Dialect(Protocol):
    name: str
    aliases: tuple[str, ...]
    accepts_text: bool
    records_at: str | None  # the data member whose i-th element is the i-th record, if any

    def parse(self, envelope: Envelope, catalog: Catalog) -> list[Parsed]:
        """Every record of the event, in order; never raises for bad input."""
        ...

    def native(self, outcome: Outcome) -> Any:
        """The vendor-shaped response for one outcome (``None`` when the dialect has none)."""
        ...


class RowReader(Protocol):
    """Turns the data rows of a job's file into records of the dialect."""

    @property
    def header_rows(self) -> int:
        """Physical rows before the first data row (row 1 names the columns)."""
        ...

    def parse(self, header: list[str], number: int, cells: list[str]) -> Parsed:
        """One data row (``number``: its physical row in the file); never raises for bad input."""
        ...

    def too_many_rows(self, limit: int) -> ErrorDetail:
        """Why a file with more than ``limit`` data rows is refused (nothing is imported)."""
        ...


@runtime_checkable
class FileImports(Protocol):
    """A dialect whose events may ask for a file import (an import job)."""

    def rows_reader(
        self, tenant: str, campaign: str, options: dict[str, Any], catalog: Catalog
    ) -> RowReader | ErrorDetail:
        """The reader for a job of this dialect, or why the job cannot run (the campaign is gone)."""
        ...


def parse_datetime(value: str, *, naive: bool = False) -> datetime:
    """An ISO 8601 date or timestamp as the vendors write it (``2020-01-01T00:00:00``); no offset
    means UTC, or (``naive``) is left without one: a local time, for service/model/localtime.py to read
    in its zone. ``ValueError`` when unreadable."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None and not naive else parsed
