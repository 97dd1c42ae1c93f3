"""``contact-import jobs watch`` and ``jobs list`` as an operator runs them (stdout not a terminal: plain
lines), against a real service process, broker, Postgres and HTTP file server: a job that completes, one
that fails, an unknown id, Ctrl-C; the list as a table and as JSON lines."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

from service.config import Settings
from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState, job_id
from service.store import jobs
from tests.jobs import TENANT, cli, customer_rows, importws_file, job_settings, setup_importws, wait_job
from tests.servers import http_server, write_csv
from tests.support import ROOT, ServiceProcess, produce, settings_env

ALL_STATES = set(JobState)


def _running_line(key: str) -> re.Pattern[str]:
    return re.compile(rf"job {key} (scheduled|running): read \d+(/\d+)? applied \d+ failed \d+( \(\d+ rows/s\))?")


def _watch(s: Settings, key: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **settings_env(s)}
    command = [sys.executable, "-m", "service", "jobs", "watch", key, "--interval", "0.2", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stderr_lines(stderr: str) -> list[str]:
    """What the command says to people on stderr (the JSON log lines left out)."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


async def test_watch_follows_a_job_to_its_end_and_list_shows_the_jobs(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)
    await setup_importws(conn)
    rows = 300
    write_csv(tmp_path / "many.csv", customer_rows(rows))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        await produce(s, [importws_file("many", web.url("many.csv")), importws_file("gone", web.url("gone.csv"))])
        done_key, failed_key = (job_id(TENANT, "tests", e, 0) for e in ("many", "gone"))
        await wait_job(conn, done_key, ALL_STATES)  # the job exists; it may have any state when watched
        done = await asyncio.to_thread(_watch(s, done_key).communicate, timeout=120)
        await wait_job(conn, failed_key, ALL_STATES)
        watcher = _watch(s, failed_key, "--tenant", TENANT)
        failed = await asyncio.to_thread(watcher.communicate, timeout=120)
        assert watcher.returncode == 1, failed
        listed = cli(s, "jobs", "list")
        as_json = cli(s, "jobs", "list", "--json")

    *progress, last = done[0].splitlines()
    assert last == f"job {done_key} completed: read {rows}/{rows} applied {rows} failed 0", done
    assert all(_running_line(done_key).fullmatch(line) for line in progress), progress
    assert len(progress) == len(set(progress))  # one line per change
    *_, failed_last = failed[0].splitlines()
    assert failed_last.startswith(f"job {failed_key} failed: read 0 applied 0 failed 0; source.not_found: ")

    assert listed.returncode == 0, listed.stderr
    table = listed.stdout.splitlines()
    assert any(all(c in line for c in ("id", "tenant", "state", "source", "read", "applied")) for line in table)
    host_file = f"{web.host}:{web.port}/"
    mine = {key: [line for line in table if key in line] for key in (done_key, failed_key)}
    assert [len(lines) for lines in mine.values()] == [1, 1], table
    assert "completed" in mine[done_key][0] and f"{host_file}many.csv" in mine[done_key][0]
    assert f"{rows}/{rows}" in mine[done_key][0]
    assert "failed" in mine[failed_key][0] and f"{host_file}gone.csv" in mine[failed_key][0]
    by_id = {j["id"]: j for j in map(orjson.loads, as_json.stdout.splitlines())}
    assert set(by_id) == {done_key, failed_key}
    assert (by_id[done_key]["state"], by_id[done_key]["rows_applied"]) == ("completed", rows)
    assert by_id[failed_key]["error_code"] == "source.not_found"


async def test_watch_an_unknown_job_or_another_tenants(settings: Settings, conn: asyncpg.Connection) -> None:
    unknown = cli(settings, "jobs", "watch", "no-such-job")
    assert (unknown.returncode, unknown.stdout, _stderr_lines(unknown.stderr)) == (1, "", ["no job no-such-job"])
    key = await _scheduled_job(conn)
    other = cli(settings, "jobs", "watch", key, "--tenant", "someone-else")
    assert (other.returncode, _stderr_lines(other.stderr)) == (1, [f"no job {key}"])


async def test_ctrl_c_stops_watching_with_130_and_no_traceback(settings: Settings, conn: asyncpg.Connection) -> None:
    key = await _scheduled_job(conn)  # due tomorrow, and no service runs: it stays scheduled
    watcher = _watch(settings, key)
    assert watcher.stdout is not None
    first = await asyncio.to_thread(watcher.stdout.readline)
    assert first.strip() == f"job {key} scheduled: read 0 applied 0 failed 0"
    watcher.send_signal(signal.SIGINT)
    _, stderr = await asyncio.to_thread(watcher.communicate, timeout=60)
    assert watcher.returncode == 130 and "Traceback" not in stderr, stderr
    assert _stderr_lines(stderr) == [f"stopped watching job {key}"]


async def _scheduled_job(conn: asyncpg.Connection) -> str:
    env = Envelope(
        event_id="later", event_source="tests", dialect="importws", data=None, topic="in", partition=0, offset=0,
        timestamp_ms=0, key=None,
    )  # fmt: skip
    req = ImportRequest(tenant=TENANT, campaign="C1", source_kind="http", format="csv", url="http://127.0.0.1/x.csv")
    key = job_id(TENANT, "tests", "later", 0)
    due = datetime.now(UTC) + timedelta(days=1)
    await jobs.create(conn, key, "importws", req, sealed=None, due_at=due, max_rows=100, env=env)
    return key
