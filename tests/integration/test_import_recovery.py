"""Import jobs under failure and concurrency, with real service processes, broker, Postgres and HTTP server:
kill -9 mid-job then restart (resumes from the checkpoint, every row applied once, one outcome each);
two replicas and many due jobs (each claimed and applied exactly once); cancel from the CLI mid-job;
tenant isolation of job lookups and cancels."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import asyncpg
import orjson

from service.config import Settings
from service.model.job import JobState, job_id
from service.model.outcome import outcome_id
from service.store import jobs
from tests.jobs import TENANT, cli, customer_rows, importws_file, job_events, job_settings, setup_importws, wait_job
from tests.servers import http_server, write_csv
from tests.support import ServiceProcess, outcomes, produce

FINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}


async def _applied_once(conn: asyncpg.Connection, rows: int, event_id: str) -> None:
    """Every row's customer exists once, was written once (version 1), and has exactly one outcome row."""
    versions = await conn.fetch("SELECT version, count(*) AS n FROM customers GROUP BY version")
    assert [(r["version"], r["n"]) for r in versions] == [(1, rows)]
    assert await conn.fetchval("SELECT count(*) FROM dial_list") == rows
    per_outcome = await conn.fetch(
        "SELECT payload FROM outbox WHERE event_id = $1 AND topic NOT LIKE 'jobs-%'", event_id
    )
    ids = Counter(orjson.loads(r["payload"])["id"] for r in per_outcome)
    assert len(ids) == rows + 1 and set(ids.values()) == {1}  # the request's outcome and one per row


async def test_kill_during_a_job_resumes_from_the_checkpoint(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_lease_s=2.0)
    await setup_importws(conn)
    rows = 95
    write_csv(tmp_path / "crash.csv", customer_rows(rows, prefix="K"))
    with http_server(tmp_path) as web:
        first = spawn(s, "first", CIS_FAILPOINT="import_after_commit", CIS_FAILPOINT_AFTER="3")
        first.wait_log("partitions assigned")
        await produce(s, [importws_file("crash", web.url("crash.csv"))])
        assert await asyncio.to_thread(first.wait_exit, 120) == 137
        assert "failpoint import_after_commit reached" in first.log()
        job_key = job_id(TENANT, "tests", "crash", 0)
        at_crash = await jobs.get(conn, job_key)
        assert at_crash is not None and at_crash.state is JobState.RUNNING
        assert (at_crash.checkpoint, at_crash.rows_read) == (31, 30)  # three steps of ten rows were committed

        second = spawn(s, "second")
        done = await wait_job(conn, job_key, FINAL)
        assert await asyncio.to_thread(second.terminate, 60) == 0
    assert done.state is JobState.COMPLETED and done.attempts == 2  # taken over once its lease ran out
    assert (done.rows_read, done.rows_applied, done.rows_failed, done.checkpoint) == (rows, rows, 0, rows + 1)
    await _applied_once(conn, rows, "crash")
    got = await outcomes(s, expect=rows + 1, idle_s=1)
    by_id: dict[str, list[dict[str, object]]] = {}
    for o in got:
        by_id.setdefault(str(o["outcome_id"]), []).append(o)
    assert set(by_id) == {outcome_id("tests\x1fcrash", i) for i in (0, *range(2, rows + 2))}
    for copies in by_id.values():  # a re-sent outcome (relay crash) is identical to the first copy
        assert all(c == copies[0] for c in copies[1:])
    started = [line for line in second.log().splitlines() if '"import job started"' in line]
    assert len(started) == 1 and '"checkpoint":31' in started[0] and '"attempt":2' in started[0]


async def test_two_replicas_claim_each_due_job_once(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_poll_s=0.05)
    await setup_importws(conn)
    files, rows = 8, 20
    for f in range(files):
        write_csv(tmp_path / f"f{f}.csv", customer_rows(rows, prefix=f"J{f}-"))
    with http_server(tmp_path) as web:
        a, b = spawn(s, "a"), spawn(s, "b")
        a.wait_log("service started")
        b.wait_log("service started")
        await produce(s, [importws_file(f"job-{f}", web.url(f"f{f}.csv")) for f in range(files)])
        ended = [await wait_job(conn, job_id(TENANT, "tests", f"job-{f}", 0), FINAL) for f in range(files)]
        got = await outcomes(s, expect=files * (rows + 1), idle_s=1)
    assert all(j.state is JobState.COMPLETED and j.attempts == 1 and j.rows_applied == rows for j in ended)
    runners = Counter(
        line.split('"job_id":"')[1].split('"')[0]
        for svc in (a, b)
        for line in svc.log().splitlines()
        if '"import job started"' in line
    )
    assert set(runners) == {j.id for j in ended} and set(runners.values()) == {1}  # each claimed by one replica
    assert len({o["outcome_id"] for o in got}) == files * (rows + 1)
    versions = await conn.fetch("SELECT version, count(*) AS n FROM customers GROUP BY version")
    assert [(r["version"], r["n"]) for r in versions] == [(1, files * rows)]


async def test_cancel_from_the_cli_mid_job_and_tenant_isolation(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_rows_per_tx=1, import_progress_every=1000)
    await setup_importws(conn)
    rows = 5000
    write_csv(tmp_path / "long.csv", customer_rows(rows, prefix="C"))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        await produce(s, [importws_file("long", web.url("long.csv"))])
        key = job_id(TENANT, "tests", "long", 0)
        await wait_job(conn, key, {JobState.RUNNING}, min_read=5)

        other = cli(s, "jobs", "cancel", key, "--tenant", "someone-else")  # another tenant's view: no such job
        assert other.returncode == 1 and f"no job {key}" in other.stderr
        assert cli(s, "jobs", "show", key, "--tenant", "someone-else").returncode == 1
        assert await jobs.get(conn, key, "someone-else") is None
        assert await jobs.cancel(conn, key, "someone-else") is None
        running = await jobs.get(conn, key, TENANT)
        assert running is not None and running.state is JobState.RUNNING

        done = cli(s, "jobs", "cancel", key)
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout)["state"] == "cancelled"
        svc.wait_log(r'"import job stopped"')
        stopped = await jobs.get(conn, key)
        as_json = cli(s, "jobs", "list", "--json", "--state", "cancelled")
        listed = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert stopped is not None and stopped.state is JobState.CANCELLED and 0 < stopped.rows_read < rows
    assert [j["id"] for j in listed] == [key] and "source_secret" not in listed[0]
    assert cli(s, "jobs", "cancel", key).returncode == 1  # already cancelled
    customers = await conn.fetchval("SELECT count(*) FROM customers")
    assert customers == stopped.rows_applied == stopped.rows_read  # counts kept; nothing after the cancel
    events = await job_events(s, expect=2, idle_s=2)
    assert [e["event"] for e in events] == ["accepted", "cancelled"]
    assert events[-1]["rows_read"] <= stopped.rows_read


async def test_sigterm_stops_a_job_at_a_step_and_gives_it_back(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_rows_per_tx=2, import_progress_every=1000, import_lease_s=600)
    await setup_importws(conn)
    rows = 1500
    write_csv(tmp_path / "term.csv", customer_rows(rows, prefix="T"))
    with http_server(tmp_path) as web:
        first = spawn(s, "first")
        first.wait_log("partitions assigned")
        await produce(s, [importws_file("term", web.url("term.csv"))])
        key = job_id(TENANT, "tests", "term", 0)
        await wait_job(conn, key, {JobState.RUNNING}, min_read=4)
        assert await asyncio.to_thread(first.terminate, 60) == 0
        assert '"import job stopped"' in first.log()
        left = await jobs.get(conn, key)
        assert left is not None and left.state is JobState.RUNNING and 0 < left.rows_read < rows
        released = await conn.fetchval("SELECT lease_expires_at <= now() FROM import_jobs WHERE id = $1", key)
        assert released  # given back at once, not after its 600 s lease

        # the step size is the runner's, not the job's: the second replica finishes the rest in larger steps
        second = spawn(s.model_copy(update={"import_rows_per_tx": 100}), "second")
        done = await wait_job(conn, key, FINAL)
        assert await asyncio.to_thread(second.terminate, 60) == 0
    assert done.state is JobState.COMPLETED and done.attempts == 2 and done.rows_applied == rows
    await _applied_once(conn, rows, "term")
