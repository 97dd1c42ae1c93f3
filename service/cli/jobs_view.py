"""How ``contact-import jobs`` shows jobs to people: the ``list`` table and the ``watch`` lines (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from rich.table import Table

from service.model.job import JobState
from service.store.jobs import Job

COLUMNS = ("id", "tenant", "state", "source", "read", "applied", "failed", "created", "updated")


def source(job: Job) -> str:
    """Where the file is, as host/file: no user info, no query string, no credentials."""
    if job.source_url is None:
        return f"{job.server_id}/{job.file_name or (job.file_path or '').rsplit('/', 1)[-1]}"
    parts = urlsplit(job.source_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{host}/{parts.path.rstrip('/').rsplit('/', 1)[-1]}"


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, coarsely: ``42s``, ``5m``, ``3h``, ``2d``; ``-`` when unknown."""
    if then is None:
        return "-"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def of_total(count: int, total: int | None) -> str:
    return f"{count}/{total}" if total is not None else str(count)


def table(listed: Iterable[Job], now: datetime) -> Table:
    """One row per job, newest first as given; the counts out of the file's rows when known."""
    out = Table(*COLUMNS)
    out.columns[0].no_wrap = True
    for job in listed:
        out.add_row(
            job.id,
            job.tenant,
            job.state.value,
            source(job),
            of_total(job.rows_read, job.total_rows),
            str(job.rows_applied),
            str(job.rows_failed),
            age(job.created_at, now),
            age(job.updated_at or job.finished_at or job.started_at or job.created_at, now),
        )
    return out


@dataclass(frozen=True, slots=True)
class Seen:
    """A job's counters at one poll: ``watch`` prints a line when they change."""

    state: JobState
    total: int | None
    read: int
    applied: int
    failed: int

    @classmethod
    def of(cls, job: Job) -> Seen:
        return cls(job.state, job.total_rows, job.rows_read, job.rows_applied, job.rows_failed)


def rate(first: tuple[float, int], last: tuple[float, int]) -> float | None:
    """Rows read per second between two (monotonic time, rows read) samples; None without elapsed time."""
    elapsed = last[0] - first[0]
    return (last[1] - first[1]) / elapsed if elapsed > 0 else None


def counts(job: Job) -> str:
    return f"read {of_total(job.rows_read, job.total_rows)} applied {job.rows_applied} failed {job.rows_failed}"


def line(job: Job, rows_per_s: float | None) -> str:
    """``job <id> running: read 1200/5000 applied 1190 failed 10 (350 rows/s)``."""
    speed = f" ({rows_per_s:.0f} rows/s)" if rows_per_s is not None else ""
    return f"job {job.id} {job.state.value}: {counts(job)}{speed}"


def final_line(job: Job) -> str:
    """The last line: the counts, and for a failed or cancelled job its error code and message."""
    text = f"job {job.id} {job.state.value}: {counts(job)}"
    if job.state is JobState.COMPLETED or (job.error_code is None and job.error_message is None):
        return text
    error = f"{job.error_code or job.state.value}: {job.error_message or ''}".strip()
    return f"{text}; {' '.join(error.split())}"  # one line, whatever the message holds
