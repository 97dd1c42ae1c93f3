"""What ``contact-import jobs list`` and ``jobs watch`` print for a job: the table, the plain lines, the
source without credentials, the ages and the rate."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rich.console import Console

from service.cli import jobs_view
from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState
from service.store.jobs import Job
from tests.jobs import job_for

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _job(event_id: str = "imp", **changes: object) -> Job:
    env = Envelope(
        event_id=event_id, event_source="tests", dialect="importws", data=None, topic="in", partition=0, offset=0,
        timestamp_ms=0, key=None,
    )  # fmt: skip
    req = ImportRequest(
        tenant="team1", campaign="C1", source_kind="http", format="csv", url="https://files.example.com/in/contacts.csv"
    )
    return replace(job_for(env, req), **changes)  # type: ignore[arg-type]


def test_a_running_line_has_the_counts_out_of_the_total_and_the_rate() -> None:
    job = _job(state=JobState.RUNNING, total_rows=5000, rows_read=1200, rows_applied=1190, rows_failed=10)
    assert jobs_view.line(job, 350.4) == f"job {job.id} running: read 1200/5000 applied 1190 failed 10 (350 rows/s)"
    uncounted = replace(job, total_rows=None)
    assert jobs_view.line(uncounted, None) == f"job {job.id} running: read 1200 applied 1190 failed 10"


def test_the_final_line_of_a_failed_job_carries_its_error_on_one_line() -> None:
    failed = _job(state=JobState.FAILED, error_code="source.not_found", error_message="HTTP 404\nNot Found")
    assert jobs_view.final_line(failed) == (
        f"job {failed.id} failed: read 0 applied 0 failed 0; source.not_found: HTTP 404 Not Found"
    )
    done = _job(state=JobState.COMPLETED, total_rows=3, rows_read=3, rows_applied=2, rows_failed=1)
    assert jobs_view.final_line(done) == f"job {done.id} completed: read 3/3 applied 2 failed 1"
    cancelled = _job(state=JobState.CANCELLED, rows_read=7, rows_applied=7)
    assert jobs_view.final_line(cancelled) == f"job {cancelled.id} cancelled: read 7 applied 7 failed 0"


def test_the_source_is_host_and_file_without_credentials() -> None:
    assert jobs_view.source(_job()) == "files.example.com/contacts.csv"
    with_secrets = _job(source_url="ftp://user:pw@ftp.example.com:2121/a/b.csv?token=t0p")
    assert jobs_view.source(with_secrets) == "ftp.example.com:2121/b.csv"
    sftp = _job(source_kind="sftp", source_url=None, server_id="fs1", file_path="/in", file_name="x.xlsx")
    assert jobs_view.source(sftp) == "fs1/x.xlsx"


def test_ages_and_rate() -> None:
    assert [jobs_view.age(NOW - timedelta(seconds=s), NOW) for s in (0, 59, 60, 3599, 7200, 200000)] == [
        "0s",
        "59s",
        "1m",
        "59m",
        "2h",
        "2d",
    ]
    assert jobs_view.age(None, NOW) == "-"
    assert jobs_view.rate((10.0, 100), (12.0, 800)) == 350.0
    assert jobs_view.rate((10.0, 100), (10.0, 100)) is None


def test_the_table_has_a_header_and_one_row_per_job() -> None:
    listed = [
        _job("a", state=JobState.RUNNING, total_rows=50, rows_read=20, rows_applied=19, rows_failed=1),
        _job("b", state=JobState.SCHEDULED, created_at=NOW - timedelta(minutes=5)),
    ]
    out = io.StringIO()
    Console(file=out, width=240).print(jobs_view.table(listed, NOW))
    lines = out.getvalue().splitlines()
    (header,) = [line for line in lines if "tenant" in line]
    assert [c in header for c in jobs_view.COLUMNS] == [True] * len(jobs_view.COLUMNS)
    rows = [line.split("│") for line in lines if any(j.id in line for j in listed)]
    assert [[cell.strip() for cell in row[1:-1]] for row in rows] == [
        [listed[0].id, "team1", "running", "files.example.com/contacts.csv", "20/50", "19", "1", "12h", "12h"],
        [listed[1].id, "team1", "scheduled", "files.example.com/contacts.csv", "0", "0", "0", "5m", "5m"],
    ]
