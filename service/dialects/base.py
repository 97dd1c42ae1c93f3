"""What a dialect plug-in provides: parse an envelope into records, render the native response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from service.catalog.model import Catalog
from service.errors import ErrorDetail
from service.model.contact import ContactRecord
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


@dataclass(slots=True)
class Parsed:
    """One input record: ready for the store, a file to import (a job), or rejected; warnings either way."""

    record: ContactRecord | Rejected | ImportRequest
    warnings: list[ErrorDetail] = field(default_factory=list)


class Dialect(Protocol):
    name: str
    aliases: tuple[str, ...]
    accepts_text: bool

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
