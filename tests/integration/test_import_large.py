"""The 500,000-row file: imported from the loopback HTTP server with bounded memory (the file is never
held whole), every row applied; the service's peak RSS (VmHWM) is reported and bounded. Slow, run in CI."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from service.model.job import JobState, job_id
from service.store.file_servers import FileServer, add_file_server
from tests.jobs import TENANT, customer_rows, importws_file, job_events, job_settings, setup_importws, wait_job
from tests.servers import http_server, sftp_server, write_csv
from tests.support import ServiceProcess, cloudevent, produce

ROWS = 500_000
RSS_LIMIT_KB = 300 * 1024
ISALES_CAP = 500_000


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_500k_rows_import_with_bounded_memory(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_rows_per_tx=2000, import_progress_every=100_000, import_lease_s=30)
    await setup_importws(conn)
    path = write_csv(tmp_path / "big.csv", customer_rows(ROWS, prefix="B"))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        assert svc.proc is not None
        idle_kb = peak_rss_kb(svc.proc.pid)
        t0 = time.monotonic()
        await produce(s, [importws_file("big", web.url("big.csv"))])
        job = await wait_job(
            conn, job_id(TENANT, "tests", "big", 0), {JobState.COMPLETED, JobState.FAILED}, timeout_s=800
        )
        elapsed = time.monotonic() - t0
        peak_kb = peak_rss_kb(svc.proc.pid)
    assert job.state is JobState.COMPLETED, job.error_message
    assert (job.total_rows, job.rows_read, job.rows_applied) == (ROWS, ROWS, ROWS)
    assert await conn.fetchval("SELECT count(*) FROM customers") == ROWS
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_id = 'big'") == ROWS + 1
    print(
        f"\n500k-row import: file {path.stat().st_size / 1e6:.1f} MB, {elapsed:.1f} s "
        f"({ROWS / elapsed:,.0f} rows/s), service peak RSS {peak_kb / 1024:.1f} MB (idle {idle_kb / 1024:.1f} MB)"
    )
    assert peak_kb < RSS_LIMIT_KB


@pytest.mark.slow
async def test_isales_file_over_500000_records_fails_with_the_seed_cap_error(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)
    await catalog.add_tenant(conn, "acme")
    await catalog.add_campaign(conn, Campaign("acme", "C-1", "Campaign 1"))
    header = [["sessionId", "called"]]
    rows = ([f"S{i}", f"[{{'calledNo':{5_000_000 + i}}}]"] for i in range(ISALES_CAP + 1))
    write_csv(tmp_path / "too-many.csv", itertools.chain(header, rows))
    with sftp_server(tmp_path) as sftp:
        login = SecretStr(sftp.password or "")
        await add_file_server(
            conn, FileServer("acme", "srv", "127.0.0.1", sftp.port, sftp.username or "", "/", login), s
        )
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        event = cloudevent(
            {"vdnId": 1, "campaignId": "C-1", "serverId": "srv", "fileName": "too-many.csv"},
            dialect="isales",
            event_id="too-many",
        )
        await produce(s, [{**event, "tenant": "acme"}])
        job = await wait_job(conn, job_id("acme", "tests", "too-many", 0), {JobState.COMPLETED, JobState.FAILED})
    assert (job.state, job.error_code) == (JobState.FAILED, "02000011")
    assert job.error_message == (
        "The number of parameters cannot exceed the specified number. "
        "A maximum of 500,000 records can be imported using a file at a time."
    )
    assert job.rows_read == 0 and await conn.fetchval("SELECT count(*) FROM customers") == 0  # nothing imported
    events = await job_events(s, expect=2)
    assert [(e["event"], e.get("error", {}).get("code")) for e in events] == [
        ("accepted", None),
        ("failed", "02000011"),
    ]
