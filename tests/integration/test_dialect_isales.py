"""isales end to end through a real service process, broker and Postgres: the seed's template row and
call-data example become contacts and dial-list entries, a bad row fails alone with the seed's code, the
seed's file-import request is accepted as an import job, and a re-import upserts."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from pydantic import SecretStr

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.cli.embedded import free_port
from service.config import Settings
from service.store.file_servers import FileServer, add_file_server
from tests.jobs import job_settings
from tests.support import ServiceProcess, cloudevent, outcomes, produce

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "isales"
TENANT = "acme"
CAMPAIGN = "C-1"


def _seed(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8").rstrip("\n")


def _isales(data: dict[str, Any], event_id: str, tenant: str | None = TENANT) -> dict[str, Any]:
    event = cloudevent(data, dialect="isales", event_id=event_id)
    if tenant is not None:
        event["tenant"] = tenant
    return event


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"vdnId": 1, "campaignId": CAMPAIGN, "rows": list(rows)}


async def _dial_list(conn: asyncpg.Connection, user_data: str) -> list[tuple[str, str | None, int | None]]:
    rows = await conn.fetch(
        "SELECT phone, phone_type, delay_s FROM dial_list WHERE tenant = $1 AND campaign = $2 AND user_data = $3"
        " ORDER BY phone",
        TENANT,
        CAMPAIGN,
        user_data,
    )
    return [(r["phone"], r["phone_type"], r["delay_s"]) for r in rows]


async def test_template_rows_and_the_file_import_request_end_to_end(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_campaign(conn, Campaign(TENANT, CAMPAIGN, "Outbound C-1"))
    # the seed's serverId, registered on loopback (where nothing serves it: the job itself is
    # test_import_isales.py's), so the request is accepted; loopback needs private networks allowed
    settings = job_settings(settings)
    seed_server = orjson.loads(_seed("request_body.seed.json"))["serverId"]
    server = FileServer(TENANT, seed_server, "127.0.0.1", free_port(), "isales", "/", SecretStr("pw"))
    await add_file_server(conn, server, settings)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    session_row = {
        "sessionId": "S-0001",
        "called": [{"calledNo": "5550001", "delayTime": "30", "type": "mobile"}, {"calledNo": 5550002}],
        "callData": _seed("call_data.seed.txt"),
        "customField": "gold",
        "recycleTime": "2024-12-31 23:59:59",
    }
    rows = _isales(
        _rows(
            {"called": _seed("template_row.seed.txt")},
            session_row,
            {"called": "[{'calledNo':5550003}]", "caller": "1" * 25},
            {"sessionId": "S-0002", "called": [{"calledNo": "5550004*12#"}]},  # post-dial digits, as seed 003 allows
        ),
        "isales-rows-1",
    )
    file_import = _isales(
        {"vdnId": 1, "campaignId": CAMPAIGN, **orjson.loads(_seed("request_body.seed.json"))}, "isales-file-1"
    )
    no_tenant = _isales(_rows({"called": _seed("template_row.seed.txt")}), "isales-no-tenant", tenant=None)
    await produce(settings, [rows, file_import, no_tenant], key=TENANT.encode())
    got = {(o["event_id"], o["record_index"]): o for o in await outcomes(settings, expect=6)}
    assert len(got) == 6

    added = [got[("isales-rows-1", i)] for i in range(3)]
    assert [(o["status"], o["user_data"]) for o in added] == [
        ("ADDED", "1234566"),
        ("ADDED", "S-0001"),
        ("FAILED", "5550003"),
    ]
    assert [o["native"]["resultCode"] for o in added] == ["0200000", "0200000", "02000003"]
    assert [(e["code"], e["path"]) for e in added[2]["errors"]] == [("02000003", "/rows/2/caller")]
    assert added[1]["contact"]["fields"]["callData"] == _seed("call_data.seed.txt")
    assert added[1]["dial_list"] == [
        {"phone": "5550001", "phone_type": "mobile", "delay_s": 30},
        {"phone": "5550002", "delay_s": 0},
    ]

    seed_keys = set(re.findall(r'"(\w+)":', _seed("response_body.seed.txt")))
    accepted = got[("isales-file-1", 0)]  # the import job itself: test_import_jobs.py
    assert accepted["status"] == "ACCEPTED" and accepted["errors"] == []
    assert set(accepted["native"]) == seed_keys and accepted["native"]["resultCode"] == "0200000"
    assert accepted["native"]["importTaskId"] == accepted["details"]["job_id"]
    assert [e["code"] for e in got[("isales-no-tenant", 0)]["errors"]] == ["isales.tenant_missing"]

    post_dial = got[("isales-rows-1", 3)]
    assert post_dial["status"] == "ADDED" and post_dial["native"]["resultCode"] == "0200000"
    assert post_dial["contact"]["phones"] == [
        {"number": "5550004", "raw": "5550004*12#", "post_dial": "*12#", "delay_s": 0}
    ]
    assert post_dial["dial_list"] == [{"phone": "5550004", "delay_s": 0, "post_dial": "*12#"}]
    queued = await conn.fetchrow("SELECT phone, post_dial FROM dial_list WHERE user_data = 'S-0002'")
    assert tuple(queued) == ("5550004", "*12#")

    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1", TENANT) == 3
    assert await _dial_list(conn, "1234566") == [("1234566", None, 0)]
    assert await _dial_list(conn, "S-0001") == [("5550001", "mobile", 30), ("5550002", None, 0)]

    # upsert: a changed row updates the contact and the dial list mirrors its numbers; an identical one is UNCHANGED
    again = _isales(
        _rows(
            {**session_row, "called": [{"calledNo": "5550002", "delayTime": 60}], "customField": "platinum"},
            {"called": _seed("template_row.seed.txt")},
        ),
        "isales-rows-2",
    )
    await produce(settings, [again], key=TENANT.encode())
    later = {(o["event_id"], o["record_index"]): o for o in await outcomes(settings, expect=8)}
    assert [later[("isales-rows-2", i)]["status"] for i in range(2)] == ["UPDATED", "UNCHANGED"]
    assert later[("isales-rows-2", 0)]["contact"]["fields"]["customField"] == "platinum"
    assert later[("isales-rows-2", 0)]["contact"]["fields"]["callData"] == _seed("call_data.seed.txt")
    assert await _dial_list(conn, "S-0001") == [("5550002", None, 60)]
    assert await conn.fetchval("SELECT version FROM customers WHERE tenant = $1 AND user_data = 'S-0001'", TENANT) == 2
