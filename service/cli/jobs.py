"""``contact-import jobs list|show|watch|cancel``: look at, follow and cancel file-import jobs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from rich.console import Console

from service.cli import jobs_view, jobs_watch
from service.config import Settings
from service.model.job import JobState
from service.pipeline import job_events
from service.store import db, jobs, outbox

COMMAND = "jobs"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(COMMAND, help="list, show, watch or cancel file-import jobs")
    actions = parser.add_subparsers(dest="jobs_command", required=True)
    listing = actions.add_parser("list", help="the newest jobs first, as a table")
    listing.add_argument("--json", action="store_true", help="one JSON line per job (for scripts)")
    listing.add_argument("--tenant", help="only this tenant's jobs")
    listing.add_argument("--state", choices=[s.value for s in JobState], help="only jobs in this state")
    listing.add_argument("--limit", type=int, default=100)
    for name, text in (("show", "one job as JSON"), ("cancel", "cancel a scheduled or running job")):
        one = actions.add_parser(name, help=text)
        one.add_argument("job_id")
        one.add_argument("--tenant", help="only if the job is this tenant's")
    watch = actions.add_parser("watch", help="follow a job until it ends (a progress bar, or plain lines)")
    watch.add_argument("job_id")
    watch.add_argument("--tenant", help="only if the job is this tenant's")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between looks (default: 1)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the answer; exit status 1 when the job is not found (or, cancelling, already finished;
    watching, when it failed or was cancelled)."""
    conn = await db.connect(settings.database_url.get_secret_value())
    try:
        if args.jobs_command == "list":
            _list(await jobs.find(conn, tenant=args.tenant, state=args.state, limit=args.limit), args.json)
            return 0
        if args.jobs_command == "watch":
            return await jobs_watch.watch(args.job_id, lambda: jobs.get(conn, args.job_id, args.tenant), args.interval)
        if args.jobs_command == "show":
            found = await jobs.get(conn, args.job_id, args.tenant)
            if found is None:
                print(f"no job {args.job_id}", file=sys.stderr)
                return 1
            _print(found.public())
            return 0
        async with conn.transaction():
            before = await jobs.get(conn, args.job_id, args.tenant)
            job = await jobs.cancel(conn, args.job_id, args.tenant)
            if before is None or job is None:
                print(f"no job {args.job_id}", file=sys.stderr)
                return 1
            if before.state not in (JobState.SCHEDULED, JobState.RUNNING):
                print(f"job {job.id} is already {job.state.value}", file=sys.stderr)
                _print(job.public())
                return 1
            await outbox.add(conn, [job_events.message(settings.jobs_topic, job, "cancelled")])
        _print(job.public())
        return 0
    finally:
        await conn.close()


def _list(listed: list[jobs.Job], as_json: bool) -> None:
    if as_json:
        for job in listed:
            _print(job.public())
        return
    console = Console()
    if not console.is_terminal:  # piped: one line per job, for grep
        console = Console(width=max(console.width, 240))
    console.print(jobs_view.table(listed, datetime.now(UTC)))


def _print(values: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(values, default=str).decode() + "\n")
    sys.stdout.flush()
