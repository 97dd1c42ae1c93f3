"""What a dialect plug-in provides: parse an envelope into records, render the native response."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from service.catalog.model import Campaign, Catalog
from service.errors import ErrorDetail
from service.model.contact import MatchOn, Phone
from service.model.envelope import Envelope
from service.model.outcome import Outcome
from service.model.records import Parsed


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
