"""``contact-import jobs watch ID``: follow one job until it ends, as a progress bar or as plain lines."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from service.cli import jobs_view
from service.model.job import FINAL_STATES, JobState
from service.store.jobs import Job

INTERRUPTED = 130  # the shell's status for a command stopped by Ctrl-C

Fetch = Callable[[], Awaitable[Job | None]]


class _Bar:
    """A rich progress bar: rows read out of the file's rows (indeterminate until they are counted)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("applied {task.fields[applied]} failed {task.fields[failed]} {task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def show(self, job: Job, rows_per_s: float | None) -> None:
        description = f"{job.id[:8]} {job.state.value}"
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(description, total=job.total_rows, applied=0, failed=0, rate="")
        self.progress.update(
            self.task,
            description=description,
            total=job.total_rows,
            completed=job.rows_read,
            applied=job.rows_applied,
            failed=job.rows_failed,
            rate=f"{rows_per_s:.0f} rows/s" if rows_per_s is not None else "",
        )

    def stop(self) -> None:
        self.progress.stop()


class _Lines:
    """One plain line per change of the job's state or counters (when stdout is not a terminal)."""

    def __init__(self) -> None:
        self.seen: jobs_view.Seen | None = None

    def show(self, job: Job, rows_per_s: float | None) -> None:
        now = jobs_view.Seen.of(job)
        if now != self.seen and job.state not in FINAL_STATES:
            print(jobs_view.line(job, rows_per_s), flush=True)
        self.seen = now

    def stop(self) -> None:
        pass


async def watch(job_id: str, fetch: Fetch, interval_s: float) -> int:
    """Poll until the job ends: 0 when it completed, 1 when it failed, was cancelled or does not exist,
    130 on Ctrl-C (no traceback)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    console = Console()
    view: _Bar | _Lines = _Bar(console) if console.is_terminal else _Lines()
    try:
        return await _follow(job_id, fetch, interval_s, view, stop)
    finally:
        view.stop()
        loop.remove_signal_handler(signal.SIGINT)


async def _follow(job_id: str, fetch: Fetch, interval_s: float, view: _Bar | _Lines, stop: asyncio.Event) -> int:
    first: tuple[float, int] | None = None
    while not stop.is_set():
        job = await fetch()
        if job is None:
            view.stop()
            print(f"no job {job_id}", file=sys.stderr)
            return 1
        sample = (time.monotonic(), job.rows_read)
        first = first or sample
        view.show(job, jobs_view.rate(first, sample))
        if job.state in FINAL_STATES:
            view.stop()
            print(jobs_view.final_line(job), flush=True)
            return 0 if job.state is JobState.COMPLETED else 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    view.stop()
    print(f"stopped watching job {job_id}", file=sys.stderr)
    return INTERRUPTED
