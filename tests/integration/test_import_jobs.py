"""importWS file imports end to end: a real service process, broker and Postgres, and real HTTP and FTP
servers on loopback serving the CSV files the tests write. The request's outcome carries the job id at
once; each row gets its own outcome; the job emits accepted, progress and completed (or failed) events;
the job row holds the counts and never the source password."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from service.catalog.model import PhonePolicy
from service.config import Settings
from service.model.job import JobState, job_id
from service.model.outcome import outcome_id
from service.store import jobs
from tests.jobs import (
    FIELDS,
    HEADER,
    TENANT,
    customer_rows,
    importws_file,
    job_events,
    job_settings,
    setup_importws,
    wait_job,
)
from tests.servers import ftp_server, http_server, write_csv, write_xlsx
from tests.support import ServiceProcess, outcomes, produce

FINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}
FILE_PASSWORD = "s3cret-file-pw"


async def test_http_with_basic_auth_end_to_end(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)
    # a campaign that rejects records without a dialable number (the default keeps and flags them), so
    # that one row of the file fails alone
    await setup_importws(conn, PhonePolicy.REJECT)
    rows = list(customer_rows(25))
    rows[5][2] = "not a phone"  # row 6 of the file fails alone
    rows[7][3] = '=HYPERLINK("http://evil","x")'  # row 8: a formula, stored as text and flagged
    write_csv(tmp_path / "contacts.csv", rows)
    with http_server(tmp_path, username="importer", password=FILE_PASSWORD) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        url = web.url("contacts.csv")
        await produce(s, [importws_file("imp-1", url, source_user="importer", source_pwd=FILE_PASSWORD)])
        got = await outcomes(s, expect=26)
        job = await wait_job(conn, job_id(TENANT, "tests", "imp-1", 0), FINAL)

    by_index = {o["record_index"]: o for o in got}
    assert len(got) == 26 and set(by_index) == {0, *range(2, 27)}
    accepted = by_index[0]
    assert accepted["status"] == "ACCEPTED" and accepted["native"] == f"|Retuen|1|Retuen|{job.id}"
    assert accepted["details"] == {"job_id": job.id, "due_at": accepted["details"]["due_at"], "source": url}
    statuses = Counter(o["status"] for i, o in by_index.items() if i)
    assert statuses == {"ADDED": 24, "FAILED": 1}
    bad = by_index[6]
    assert [(e["code"], e["path"]) for e in bad["errors"]] == [("phone.none_valid", "/rows/6")]
    assert [(w["code"], w["path"]) for w in bad["warnings"]] == [("phone.invalid", "/rows/6")]
    assert bad["native"].startswith("|Retuen|2|Retuen|")
    flagged = by_index[8]
    assert flagged["status"] == "ADDED" and [(w["code"], w["path"]) for w in flagged["warnings"]] == [
        ("import.formula_cell", "/rows/8/Tier")
    ]
    assert flagged["contact"]["fields"]["tier"] == rows[7][3]  # as text, never evaluated
    for i in range(2, 27):
        o = by_index[i]
        assert o["event_id"] == "imp-1" and o["details"]["job_id"] == job.id and o["details"]["row"] == i
        assert o["outcome_id"] == outcome_id("tests\x1fimp-1", i)
    assert by_index[2]["native"] == "|Retuen|1|Retuen|Success"
    assert by_index[2]["contact"]["fields"] == {"name": "Customer 0", "phone1": "+49300000000", "tier": "gold"}
    assert set(FIELDS) >= set(by_index[2]["contact"]["fields"])

    assert job.state is JobState.COMPLETED and job.error_code is None
    assert (job.total_rows, job.rows_read, job.rows_applied, job.rows_failed, job.checkpoint) == (25, 25, 24, 1, 26)
    assert job.source_url == url and job.attempts == 1
    assert job.source_secret is not None and FILE_PASSWORD.encode() not in job.source_secret
    assert b"importer" not in job.source_secret
    log = svc.log()
    assert FILE_PASSWORD not in log and "Customer 1" not in log and "+4930000000" not in log  # no file values
    assert '"import job completed"' in log and '"rows failed"' in log and '"rows":[6]' in log
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1", TENANT) == 24
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE tenant = $1", TENANT) == 24

    events = await job_events(s, expect=4, idle_s=1)
    assert [(e["event"], e["rows_read"]) for e in events] == [
        ("accepted", 0),
        ("progress", 10),
        ("progress", 20),
        ("completed", 25),
    ]
    done = events[-1]
    assert (done["state"], done["rows_applied"], done["rows_failed"], done["rows_total"]) == ("completed", 24, 1, 25)
    assert done["request"] == {"event_source": "tests", "event_id": "imp-1"} and done["source"] == url


async def test_ftp_and_failing_sources(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings)
    await setup_importws(conn)
    write_csv(tmp_path / "ftp.csv", customer_rows(12, prefix="F"), delimiter=";")
    write_xlsx(tmp_path / "sheet.xlsx", [HEADER, ["X1", "Xavier", 4930123456, "silver"]])  # the phone as a number
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    with ftp_server(tmp_path, username="ftpuser", password=FILE_PASSWORD) as ftp, http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        events = [
            importws_file(  # delrow 3: the title line and the first two customers are skipped
                "ftp", ftp.url("ftp.csv"), source="ftp", source_user="ftpuser", source_pwd=FILE_PASSWORD, delrow="3"
            ),
            importws_file("xlsx", web.url("sheet.xlsx")),
            importws_file("missing", web.url("nothing-here.csv")),
            importws_file("dead", f"http://127.0.0.1:{dead_port}/x.csv"),
            importws_file("badlogin", ftp.url("ftp.csv"), source="ftp", source_user="ftpuser", source_pwd="wrong"),
        ]
        await produce(s, events)
        got = await outcomes(s, expect=5 + 10 + 1)
        ended = {e["id"]: await wait_job(conn, job_id(TENANT, "tests", e["id"], 0), FINAL) for e in events}

    accepted = {o["event_id"]: o for o in got if o["status"] == "ACCEPTED"}
    assert set(accepted) == {"ftp", "xlsx", "missing", "dead", "badlogin"}
    (sheet_row,) = [o for o in got if o["event_id"] == "xlsx" and o["status"] != "ACCEPTED"]
    assert (sheet_row["status"], sheet_row["user_data"], sheet_row["record_index"]) == ("ADDED", "X1", 2)
    assert sheet_row["dial_list"] == [{"phone": "4930123456"}] and ended["xlsx"].format == "xlsx"
    ftp_job = ended["ftp"]
    assert ftp_job.state is JobState.COMPLETED and (ftp_job.rows_read, ftp_job.rows_applied) == (10, 10)
    rows = [o for o in got if o["event_id"] == "ftp" and o["status"] != "ACCEPTED"]
    assert sorted(o["user_data"] for o in rows) == sorted(f"F{i}" for i in range(2, 12))
    assert sorted(o["record_index"] for o in rows) == list(range(4, 14))
    assert {o["status"] for o in rows} == {"ADDED"}
    failures = {k: (j.state, j.error_code, j.rows_read) for k, j in ended.items() if k not in ("ftp", "xlsx")}
    assert failures == {
        "missing": (JobState.FAILED, "source.not_found", 0),
        "dead": (JobState.FAILED, "source.unreachable", 0),
        "badlogin": (JobState.FAILED, "source.auth_failed", 0),
    }
    assert all(j.error_message for k, j in ended.items() if k not in ("ftp", "xlsx"))
    assert FILE_PASSWORD not in svc.log() and "wrong" not in svc.log()

    final = [e for e in await job_events(s, expect=5 + 1 + 5, idle_s=1) if e["event"] in ("completed", "failed")]
    assert {(e["job_id"], e["event"], (e.get("error") or {}).get("code")) for e in final} == {
        (ended["ftp"].id, "completed", None),
        (ended["xlsx"].id, "completed", None),
        (ended["missing"].id, "failed", "source.not_found"),
        (ended["dead"].id, "failed", "source.unreachable"),
        (ended["badlogin"].id, "failed", "source.auth_failed"),
    }


async def test_a_future_exetime_is_not_run_before_it_is_due(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    s = job_settings(settings, import_timezone="Europe/Berlin")
    await setup_importws(conn)
    write_csv(tmp_path / "later.csv", customer_rows(3, prefix="L"))
    with http_server(tmp_path) as web:
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        local = due.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S")
        await produce(s, [importws_file("later", web.url("later.csv"), exetime=local)])
        (accepted,) = await outcomes(s, expect=1)
        job = await jobs.get(conn, job_id(TENANT, "tests", "later", 0))
        assert job is not None and job.due_at == due  # exetime is local time in CIS_IMPORT_TIMEZONE
        if datetime.now(UTC) < due:  # checked before the due time: nothing has run yet
            assert job.state is JobState.SCHEDULED and job.started_at is None and job.rows_read == 0
        done = await wait_job(conn, job.id, FINAL)
    assert accepted["details"]["due_at"] == due.isoformat().replace("+00:00", "Z")
    assert done.state is JobState.COMPLETED and done.rows_applied == 3
    assert done.started_at is not None and done.started_at >= due
