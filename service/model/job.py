"""A file import asked for by an event (importWS ``source=http|ftp``, iSales file-server request).

A dialect turns such an event into an :class:`ImportRequest` (pure, no I/O); the processor stores it
as an import job in the event's own transaction; the job runner fetches the file, and each data row
becomes a record of the same dialect, with its own outcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import SecretStr

from service.model.localtime import read_local, wall_time

JOB_NS = uuid.UUID("7b0e4c52-31d9-4f7e-9c1a-5d2e8f6a0b13")

SourceKind = Literal["http", "ftp", "sftp"]
FileFormat = Literal["csv", "xlsx", "xls"]


class JobState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True, slots=True)
class Schedule:
    """When to run: at a local time (importWS ``exetime``), at the next hour:minute (iSales), or now.

    ``zone`` is the time zone the request was read in (the campaign's, else the tenant's, else
    ``CIS_IMPORT_TIMEZONE``); without one, ``due_at`` reads the times in the zone it is given."""

    at: datetime | None = None  # aware: the instant; naive: a local time in the zone
    hour_minute: tuple[int, int] | None = None
    zone: str | None = None

    def due_at(self, now: datetime, tz: str) -> datetime:
        """The due time (UTC) for a request received at ``now`` (aware); ``tz``: the zone when the
        schedule names none. An hour:minute the clocks skip that day runs as much later as the gap is
        long, one they pass twice the first time (service/model/localtime.py)."""
        name = self.zone or tz
        if self.at is not None:
            return read_local(self.at, name).at
        if self.hour_minute is not None:
            today = wall_time(now, name)
            hour, minute = self.hour_minute
            for day in (today, today + timedelta(days=1)):
                due = read_local(day.replace(hour=hour, minute=minute, second=0, microsecond=0), name).at
                if due > now:
                    return due
        return now.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """One file to import into one campaign; the credentials are sealed before they are stored."""

    tenant: str
    campaign: str
    source_kind: SourceKind
    format: FileFormat
    url: str | None = None  # http(s)/ftp, without user info
    username: str | None = None
    password: SecretStr | None = None
    server_id: str | None = None  # sftp: a file server registered for the tenant
    file_path: str | None = None
    file_name: str | None = None
    schedule: Schedule = field(default_factory=Schedule)
    options: dict[str, Any] = field(default_factory=dict)
    max_rows: int | None = None  # the dialect's own cap (iSales: 500,000); None: CIS_IMPORT_MAX_ROWS
    url_pointer: str = "/"  # where the URL is in the request (importWS ``/context``), for errors about it


def job_id(tenant: str, event_source: str, event_id: str, index: int) -> str:
    """Deterministic: the same request event always names the same job (of the same tenant)."""
    return str(uuid.uuid5(JOB_NS, f"{tenant}\x1f{event_source}\x1f{event_id}\x1f{index}"))
