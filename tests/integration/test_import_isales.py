"""iSales file imports end to end: the seed's file-import request names a file server registered by id
(a real SFTP server on loopback, host key checked) and an .xlsx or .csv file of template rows; each
row becomes a record with the seed's codes, the request's importTaskId is the job id; hour+minute
schedule the job; an unknown server, a server on a refused address or another file type is answered
at once, with no job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.fernet import Fernet
from pydantic import SecretStr

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from service.dialects.isales_rules import SEED_TEXT
from service.model.job import JobState, Schedule, job_id
from service.store import jobs
from service.store.file_servers import FileServer, add_file_server
from tests.jobs import job_events, job_settings, wait_job
from tests.servers import sftp_server, write_csv, write_xlsx
from tests.support import ServiceProcess, cloudevent, outcomes, produce

TENANT = "acme"
CAMPAIGN = "C-1"
SERVER_ID = "164690088271159234793429225848"  # the seed's example
FINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
HEADER = ["sessionId", "called", "caller", "callData", "customField", "recycleTime"]


def template_rows(prefix: str) -> list[list[Any]]:
    return [
        HEADER,
        [
            f"{prefix}-1",
            "[{'calledNo':1234566}]",
            "4000",
            '{"iSales":{"ServiceID":"1"}}',
            "gold",
            "2026-12-31 23:59:59",
        ],
        ["", f'[{{"calledNo":"555{len(prefix)}002","delayTime":"30","type":"mobile"}}]', "", "", "", ""],
        [f"{prefix}-3", "[{'calledNo':'12a'}]", "", "", "", ""],  # not a number: 02000002
        [f"{prefix}-4", "[{'calledNo':'5550004'}]", "-", "-", "@SUM(A1)", "-"],  # a formula-like cell, flagged
    ]


def request(event_id: str, file_name: str, **extra: Any) -> dict[str, Any]:
    data = {"vdnId": 1, "campaignId": CAMPAIGN, "serverId": SERVER_ID, "filePath": "/upload", "fileName": file_name}
    event = cloudevent({**data, **extra}, dialect="isales", event_id=event_id)
    event["tenant"] = TENANT
    return event


async def test_sftp_file_server_xlsx_and_csv(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_timezone="UTC")
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_campaign(conn, Campaign(TENANT, CAMPAIGN, "Campaign 1"))
    root = tmp_path / "sftp"
    (root / "isales" / "upload").mkdir(parents=True)
    write_xlsx(root / "isales" / "upload" / "calls.xlsx", template_rows("X"))
    write_csv(root / "isales" / "upload" / "calls.csv", template_rows("CSV"))
    with sftp_server(root, username="isales", password="sftp-pw") as sftp:
        login = SecretStr("sftp-pw")
        server = FileServer(TENANT, SERVER_ID, "127.0.0.1", sftp.port, "isales", "/isales", login, sftp.host_key)
        await add_file_server(conn, server, s)
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        later = datetime.now(UTC).hour + 2  # a scheduled import: hour and minute
        events = [
            request("xlsx", "calls.xlsx"),
            request("csv", "calls.csv"),
            request("scheduled", "calls.csv", hour=str(later % 24), minute="05"),
        ]
        await produce(s, events)
        got = await outcomes(s, expect=3 + 4 + 4)
        ended = {e: await wait_job(conn, job_id(TENANT, "tests", e, 0), FINAL) for e in ("xlsx", "csv")}
        scheduled = await jobs.get(conn, job_id(TENANT, "tests", "scheduled", 0))
        assert scheduled is not None
        assert scheduled.state is JobState.SCHEDULED and scheduled.rows_read == 0
        cancelled = await jobs.cancel(conn, scheduled.id, TENANT)
    assert "sftp-pw" not in svc.log()

    accepted = {o["event_id"]: o for o in got if o["status"] == "ACCEPTED"}
    assert set(accepted) == {"xlsx", "csv", "scheduled"}
    for event_id, o in accepted.items():
        assert o["native"]["importTaskId"] == job_id(TENANT, "tests", event_id, 0)
        assert o["native"]["resultCode"] == o["native"]["returnCode"] == "0200000"
    expected_due = Schedule(hour_minute=(later % 24, 5)).due_at(scheduled.created_at, "UTC")
    assert scheduled.due_at == expected_due and cancelled is not None and cancelled.state is JobState.CANCELLED

    for event_id, prefix in (("xlsx", "X"), ("csv", "CSV")):
        job = ended[event_id]
        assert job.state is JobState.COMPLETED, job.error_message
        assert (job.total_rows, job.rows_applied, job.rows_failed) == (4, 3, 1)
        rows = {o["record_index"]: o for o in got if o["event_id"] == event_id and o["status"] != "ACCEPTED"}
        assert sorted(rows) == [2, 3, 4, 5]
        assert [rows[i]["status"] for i in (2, 3, 4, 5)] == ["ADDED", "ADDED", "FAILED", "ADDED"]
        assert rows[2]["user_data"] == f"{prefix}-1" and rows[3]["user_data"] == f"555{len(prefix)}002"
        assert rows[2]["contact"]["fields"] == {
            "caller": "4000",
            "callData": '{"iSales":{"ServiceID":"1"}}',
            "customField": "gold",
            "recycleTime": "2026-12-31 23:59:59",
        }
        assert rows[3]["dial_list"] == [{"phone": f"555{len(prefix)}002", "phone_type": "mobile", "delay_s": 30}]
        assert [(e["code"], e["path"]) for e in rows[4]["errors"]] == [("02000002", "/rows/4/called/0/calledNo")]
        assert rows[4]["native"]["resultCode"] == "02000002"
        assert sorted((w["code"], w["path"]) for w in rows[5]["warnings"]) == [
            ("import.formula_cell", "/rows/5/customField"),
            ("phone.no_region", "/rows/5/called/0/calledNo"),  # the campaign names no region
        ]
        assert rows[5]["contact"]["fields"] == {"customField": "@SUM(A1)"}  # "-" cells are not given
        assert {o["native"]["importTaskId"] for o in rows.values()} == {job.id}

    # accepted x3, completed x2; the store's cancel publishes no event (the CLI's does: test_import_recovery)
    events = await job_events(s, expect=3 + 2, idle_s=1)
    assert {(e["job_id"], e["event"]) for e in events if e["event"] not in ("accepted", "cancelled")} == {
        (ended["xlsx"].id, "completed"),
        (ended["csv"].id, "completed"),
    }
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1", TENANT) == 6


async def test_what_can_be_checked_when_a_request_arrives_is_answered_then(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    """An unknown serverId, a file server on a refused address and an unsupported file type are answered
    in the request's own outcome with the seed's codes: no job, no importTaskId, nothing on the jobs topic."""
    # the shipped defaults (private addresses refused) with a sealing key, which registering a server needs
    s = settings.model_copy(update={"import_secret_key": SecretStr(Fernet.generate_key().decode())})
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_campaign(conn, Campaign(TENANT, CAMPAIGN, "Campaign 1"))
    await catalog.add_tenant(conn, "other")
    loopback = FileServer(TENANT, "loopback", "127.0.0.1", 2222, "isales", "/", SecretStr("pw"))
    await add_file_server(conn, loopback, s)
    await add_file_server(conn, FileServer("other", SERVER_ID, "192.0.2.10", 22, "u", "/", SecretStr("pw")), s)
    svc = spawn(s)
    svc.wait_log("partitions assigned")
    await produce(
        s,
        [
            request("unknown-server", "demogl50w.xlsx"),  # the seed's serverId: registered for another tenant only
            request("refused-address", "demogl50w.xlsx", serverId="loopback"),
            request("unsupported-type", "demogl50w.pdf"),
        ],
    )
    got = {o["event_id"]: o for o in await outcomes(s, expect=3, idle_s=1)}
    assert {e: (o["status"], o["native"]["resultCode"], o["native"]["importTaskId"]) for e, o in got.items()} == {
        "unknown-server": ("FAILED", "02000007", None),
        "refused-address": ("FAILED", "0200001", None),
        "unsupported-type": ("FAILED", "02000007", None),
    }
    assert [(e["code"], e["path"]) for e in got["unknown-server"]["errors"]] == [
        ("import.server_not_found", "/serverId")
    ]
    assert [(e["code"], e["path"]) for e in got["refused-address"]["errors"]] == [
        ("source.forbidden_address", "/serverId")
    ]
    assert [(e["code"], e["path"]) for e in got["unsupported-type"]["errors"]] == [("02000007", "/fileName")]
    for o in got.values():
        assert o["native"]["resultDesc"] == o["native"]["returnDesc"]
        assert o["native"]["resultDesc"].startswith(SEED_TEXT[o["native"]["resultCode"]])
        assert "job_id" not in o["details"]
    assert "127.0.0.1" not in got["refused-address"]["native"]["resultDesc"]
    assert await conn.fetchval("SELECT count(*) FROM import_jobs") == 0
    assert await job_events(s, expect=0, idle_s=1) == []
