"""Seed 003's own examples through the whole pipeline on the shipped default settings: the request event,
the file-import job, the file's rows, the store and the outcomes (tests/golden/isales/README.md says how
each example is read).

They run the shipped defaults; the only settings they set are the ones a deployment must give for file imports
from the test's own loopback SFTP server: a sealing key for the server's password, and that one loopback
address as an allowed network (private addresses are refused by default, as the arrival test shows).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cryptography.fernet import Fernet
from pydantic import SecretStr

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from service.model.job import JobState, job_id
from service.store.file_servers import FileServer, add_file_server
from tests.jobs import wait_job
from tests.servers import sftp_server, write_xls, write_xlsx
from tests.support import ServiceProcess, cloudevent, outcomes, produce

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "isales"
CAMPAIGN = "C-1"
FINAL = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}


def _seed(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8").rstrip("\n")


def _expand(value: Any) -> Any:
    """A golden event: ``"@file"`` is that seed file's text, ``"@merge": file`` merges its JSON object."""
    if isinstance(value, str) and value.startswith("@"):
        return _seed(value[1:])
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        out = {k: _expand(v) for k, v in value.items() if k != "@merge"}
        if "@merge" in value:
            out.update(orjson.loads(_seed(value["@merge"])))
        return out
    return value


def shipped_defaults(settings: Settings, **needed: Any) -> Settings:
    """``settings`` (the shared test settings change no product setting) with only what ``needed`` names."""
    return settings.model_copy(update=needed)


def table1() -> tuple[list[str], list[str]]:
    """Table 1 of the seed, cell by cell: the header row and the template row."""
    cells = [c.strip() for c in _seed("table1.seed.txt").split("\n\n")]
    return cells[:6], cells[6:]


def _event(golden: dict[str, Any], event_id: str, **data: Any) -> dict[str, Any]:
    event = _expand(golden)
    out = cloudevent({**event["data"], **data}, dialect="isales", event_id=event_id)
    out["tenant"] = event["tenant"]
    return out


def _seed_keys() -> set[str]:
    return set(re.findall(r'"(\w+)":', _seed("response_body.seed.txt")))


async def test_the_seed_template_rows_are_added_on_the_shipped_defaults(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    s = shipped_defaults(settings)
    golden = orjson.loads(_seed("template_rows.expected.json"))
    tenant = golden["event"]["tenant"]
    await catalog.add_tenant(conn, tenant)
    await catalog.add_campaign(conn, Campaign(tenant, CAMPAIGN, "Outbound"))  # no region: none is in the seed
    svc = spawn(s)
    svc.wait_log("partitions assigned")
    await produce(s, [_event(golden["event"], "seed-rows")])
    got = sorted(await outcomes(s, expect=2), key=lambda o: o["record_index"])

    assert [(o["status"], o["user_data"]) for o in got] == [("ADDED", "1234566"), ("ADDED", "S-0001")]
    assert got[0]["native"] == golden["native_added"]
    assert set(got[0]["native"]) == _seed_keys()
    assert got[1]["contact"]["fields"] == {"callData": _seed("call_data.seed.txt")}
    assert [d["phone"] for o in got for d in o["dial_list"]] == ["1234566", "1234566"]
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1", tenant) == 2


async def test_the_seed_file_import_request_imports_a_workbook_made_from_table_1(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The seed's request body, verbatim, names an .xlsx made from Table 1 (header cells with their
    "(Optional)"/"(Mandatory)", the template row with "-" cells); the same request naming the same
    table saved as a legacy .xls ("Create an Excel template") is read alike."""
    key = SecretStr(Fernet.generate_key().decode())
    s = shipped_defaults(settings, import_secret_key=key, import_allowed_networks="127.0.0.1/32")
    golden = orjson.loads(_seed("file_import.expected.json"))
    body = orjson.loads(_seed("request_body.seed.json"))
    header, row = table1()
    folder = tmp_path / "sftp" / body["filePath"].strip("/")
    folder.mkdir(parents=True)
    write_xlsx(folder / body["fileName"], [header, row])
    write_xls(folder / "demo.xls", [header, row])
    tenants = {"seed-xlsx": golden["event"]["tenant"], "seed-xls": "globex"}  # a tenant each: one new contact each
    with sftp_server(tmp_path / "sftp", username="isales", password="sftp-pw") as sftp:
        for tenant in tenants.values():
            await catalog.add_tenant(conn, tenant)
            await catalog.add_campaign(conn, Campaign(tenant, CAMPAIGN, "Outbound"))
            server = FileServer(
                tenant, body["serverId"], "127.0.0.1", sftp.port, "isales", "/", SecretStr("sftp-pw"), sftp.host_key
            )
            await add_file_server(conn, server, s)
        svc = spawn(s)
        svc.wait_log("partitions assigned")
        xls = _event(golden["event"], "seed-xls", fileName="demo.xls")
        await produce(s, [_event(golden["event"], "seed-xlsx"), {**xls, "tenant": tenants["seed-xls"]}])
        got = await outcomes(s, expect=4)
        jobs = {e: await wait_job(conn, job_id(t, "tests", e, 0), FINAL) for e, t in tenants.items()}

    for event_id, tenant in tenants.items():
        job = jobs[event_id]
        assert job.state is JobState.COMPLETED, job.error_message
        assert (job.total_rows, job.rows_applied, job.rows_failed) == (1, 1, 0)
        request, rows = (
            [o for o in got if o["event_id"] == event_id and (o["status"] == "ACCEPTED") is accepted]
            for accepted in (True, False)
        )
        expected = {**golden["outcomes"][0]["native"], "importTaskId": job.id}
        assert [o["native"] for o in request] == [expected]
        assert set(request[0]["native"]) == _seed_keys()
        assert [(o["status"], o["user_data"], o["record_index"]) for o in rows] == [("ADDED", "1234566", 2)]
        assert rows[0]["native"]["resultCode"] == "0200000" and rows[0]["native"]["importTaskId"] == job.id
        assert rows[0]["contact"].get("fields", {}) == {}  # every "-" cell is a value not given
        assert not [w for w in rows[0]["warnings"] if w["code"] == "isales.unknown_column"]
        assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1", tenant) == 1
