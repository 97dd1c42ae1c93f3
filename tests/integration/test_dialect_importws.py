"""importws end to end: importWS calls (JSON and the seed's query string) through a real service process,
broker and Postgres; every duplicate option does what the seeds document, counted in Postgres."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from tests.support import ServiceProcess, cloudevent, outcomes, produce

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "importws"
TENANT = "team1"
KEY = TENANT.encode()
SUCCESS = "|Retuen|1|Retuen|Success"
FIELDS = {"name": "Name", "phone1": "Contact1", "prio": "Dialer Priority", "dialtime": "Dialer Schedule"}


def _params(**changes: str) -> dict[str, str]:
    """A ``source=data`` call by agent 8001 (plaintext password) into campaign C1, options all cautious."""
    base = {
        "orgidentity": TENANT,
        "usertype": "agent",
        "user": "8001",
        "pwdtype": "plaintext",
        "password": "s3cret",
        "modeltype": "Campaign",
        "model_id": "C1",
        "source": "data",
        "context": "",
        "source_user": "",
        "source_pwd": "",
        "exetime": "",
        "delrow": "",
        "phone_field": "Contact1",
        "priority_field": "",
        "dialtime_field": "",
        "emptyagent": "no",
        "resetstatus": "no",
        "dupway": "skip",
        "dupdiallist": "ignoreDuplicate",
        "changepackage": "skip",
    }
    return {**base, **changes}


def _call(event_id: str, user: str, phone: str, **changes: str) -> dict[str, Any]:
    """An importWS call as a structured CloudEvent with JSON data, for customer ``user``."""
    context = changes.pop("context", f"UserData={user}||Name=Customer {user}||Contact1={phone}")
    return cloudevent(_params(context=context, **changes), dialect="importws", event_id=event_id)


async def _setup_catalog(conn: asyncpg.Connection) -> None:
    await catalog.add_tenant(conn, TENANT)
    await catalog.add_tenant(conn, "orgidentity")
    await catalog.add_user(conn, TENANT, "agent", "8001", "s3cret")
    await catalog.add_user(conn, TENANT, "account", "admin", "adm1n")
    await catalog.add_campaign(conn, Campaign(TENANT, "C1", "Spring", fields=FIELDS))
    for campaign, name in (("M1", "Main A"), ("M2", "Main B")):
        await catalog.add_campaign(conn, Campaign(TENANT, campaign, name, fields=FIELDS, uses_main_table=True))


class Run:
    """Publish rounds of events to one partition (in order) and read every outcome so far by event id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.total = 0

    async def round(self, *events: dict[str, Any]) -> dict[str, dict[str, Any]]:
        await produce(self.settings, list(events), key=KEY)
        self.total += len(events)
        got = await outcomes(self.settings, expect=self.total)
        return {o["event_id"]: o for o in got}


async def _dial_rows(conn: asyncpg.Connection, user: str, campaign: str = "C1") -> int:
    sql = "SELECT count(*) FROM dial_list WHERE tenant = $1 AND campaign = $2 AND user_data = $3"
    count = await conn.fetchval(sql, TENANT, campaign, user)
    assert isinstance(count, int)
    return count


async def _member(conn: asyncpg.Connection, user: str, campaign: str = "C1") -> asyncpg.Record | None:
    sql = "SELECT status, agent FROM campaign_records WHERE tenant = $1 AND campaign = $2 AND user_data = $3"
    return await conn.fetchrow(sql, TENANT, campaign, user)


async def _campaigns_of(conn: asyncpg.Connection, user: str) -> list[str]:
    sql = "SELECT campaign FROM campaign_records WHERE tenant = $1 AND user_data = $2 ORDER BY campaign"
    return [r["campaign"] for r in await conn.fetch(sql, TENANT, user)]


async def _set_member(conn: asyncpg.Connection, user: str, **values: str) -> None:
    """What the dialer does between imports: assign an agent, record a call result."""
    for column, value in values.items():
        assert column in ("status", "agent")
        await conn.execute(
            f"UPDATE campaign_records SET {column} = $3 WHERE tenant = $1 AND user_data = $2", TENANT, user, value
        )


async def test_both_forms_credentials_and_failures(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _setup_catalog(conn)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    run = Run(settings)

    context = (
        "UserData=U1||Name=Ada||Contact1=+44 20 7946 0001||Dialer Priority=5||dialtime=2026-03-01 09:30:00||fav=tea"
    )
    json_form = _call("json", "U1", "", context=context, priority_field="prio", dialtime_field="Dialer Schedule")
    md5 = hashlib.md5(b"adm1n").hexdigest()
    query = "EVENT=Import&" + urlencode(
        _params(
            usertype="account", user="admin", pwdtype="MD5", password=md5, context="UserData=U2||phone1=+442079460002"
        )
    )
    missing = cloudevent({k: v for k, v in _params().items() if k != "dupdiallist"}, dialect="importws", event_id="m")
    wrong = _call("wrong", "U3", "+4420794603", password="s3cret!")
    http = _call("http", "U4", "", source="http", context="http://192.168.1.88/xxx.csv", delrow="1")
    seed = cloudevent((GOLDEN / "001_query_string_blank_fields.txt").read_text(), dialect="importws", event_id="seed")
    await run.round(json_form, missing, wrong, http, seed)
    # the query string as the raw message value (CloudEvents binary mode), the tenant as a header
    headers = [("ce_type", b"importws"), ("ce_id", b"query"), ("ce_source", b"crm"), ("ce_tenant", KEY)]
    await produce(settings, [query.encode()], headers=headers, key=KEY)
    run.total += 1
    got = {o["event_id"]: o for o in await outcomes(settings, expect=run.total)}

    assert {e: (o["status"], o["native"]) for e, o in got.items()} == {
        "json": ("ADDED", SUCCESS),
        "query": ("ADDED", SUCCESS),
        "m": ("FAILED", "|Retuen|2|Retuen|parameter dupdiallist is missing (send an empty string for no value)"),
        "wrong": ("FAILED", "|Retuen|2|Retuen|authentication failed"),
        # the seeds' own file URL is on a private address, refused on the defaults when the request arrives
        "http": ("FAILED", "|Retuen|2|Retuen|192.168.1.88 is not a public address"),
        "seed": ("FAILED", "|Retuen|2|Retuen|authentication failed"),
    }
    assert got["m"]["errors"] == [
        {
            "code": "importws.missing_parameter",
            "path": "/dupdiallist",
            "message": "parameter dupdiallist is missing (send an empty string for no value)",
        }
    ]
    assert got["wrong"]["errors"][0]["code"] == "auth.failed"
    assert [w["code"] for w in got["json"]["warnings"]] == ["importws.unknown_field"]

    ada = await conn.fetchval("SELECT data FROM customers WHERE tenant = $1 AND user_data = 'U1'", TENANT)
    assert ada["name"] == "Ada" and ada["attributes"] == {"fav": "tea"}
    assert ada["fields"] == {
        "name": "Ada",
        "phone1": "+44 20 7946 0001",
        "prio": "5",
        "dialtime": "2026-03-01 09:30:00",
    }
    row = await conn.fetchrow("SELECT phone, priority, dial_at FROM dial_list WHERE user_data = 'U1'")
    assert dict(row) == {"phone": "+442079460001", "priority": 5, "dial_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)}
    # the dial time is read in the campaign's zone; none is set anywhere: UTC, and the entry says so
    dial = {
        "phone": "+442079460001",
        "priority": 5,
        "dial_at": "2026-03-01T09:30:00Z",
        "time_zones": ["Europe/London"],
        "dial_zone": "UTC",
    }
    assert got["json"]["dial_list"] == [dial]
    assert await _dial_rows(conn, "U2") == 1
    assert await conn.fetchval("SELECT count(*) FROM customers") == 2  # nothing from the failed calls


async def test_every_duplicate_option_end_to_end(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _setup_catalog(conn)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")
    run = Run(settings)
    phone = "+442079460001"

    got = await run.round(
        _call("new-U1", "U1", phone),
        _call("new-U5", "U5", "+442079460005", model_id="M1"),
        _call("new-U6", "U6", "+442079460006", model_id="M1"),
    )
    assert {got[e]["status"] for e in ("new-U1", "new-U5", "new-U6")} == {"ADDED"}
    await _set_member(conn, "U1", agent="A7", status="callback")

    # dupway skip keeps the details; update writes them; ignoreDuplicate queues nothing for a known customer
    got = await run.round(
        _call("skip", "U1", phone, context=f"UserData=U1||Name=Changed||Contact1={phone}"),
        _call("update", "U1", phone, dupway="update", context=f"UserData=U1||Name=Ada L.||Contact1={phone}"),
    )
    assert (got["skip"]["status"], got["skip"]["native"], got["skip"]["contact"]["name"]) == (
        "SKIPPED",
        SUCCESS,
        "Customer U1",
    )
    assert (got["update"]["status"], got["update"]["contact"]["name"], got["update"]["version"]) == (
        "UPDATED",
        "Ada L.",
        2,
    )
    assert await _dial_rows(conn, "U1") == 1
    assert dict(await _member(conn, "U1") or {}) == {"status": "callback", "agent": "A7"}

    # emptyagent=yes clears the agent only; resetstatus=yes clears the status
    got = await run.round(_call("emptyagent", "U1", phone, emptyagent="yes"))
    assert got["emptyagent"]["status"] == "UPDATED"
    assert dict(await _member(conn, "U1") or {}) == {"status": "callback", "agent": None}
    got = await run.round(_call("resetstatus", "U1", phone, resetstatus="yes"))
    assert got["resetstatus"]["status"] == "UPDATED"
    assert dict(await _member(conn, "U1") or {}) == {"status": None, "agent": None}
    version = await conn.fetchval("SELECT version FROM customers WHERE tenant = $1 AND user_data = 'U1'", TENANT)
    assert version == 2  # neither touched the customer's details (dupway=skip)

    # dupdiallist=all queues the phone on every import
    got = await run.round(
        _call("all-1", "U1", phone, dupdiallist="all"), _call("all-2", "U1", phone, dupdiallist="all")
    )
    queued = {"phone": phone, "time_zones": ["Europe/London"]}
    assert [got[e]["dial_list"] for e in ("all-1", "all-2")] == [[queued], [queued]]
    assert await _dial_rows(conn, "U1") == 3

    # dupdiallist=ignoreSuccess: not while the customer's status is success, again once it is not
    await _set_member(conn, "U1", status="success")
    got = await run.round(_call("success", "U1", phone, dupdiallist="ignoreSuccess"))
    assert (got["success"]["status"], got["success"]["dial_list"]) == ("SKIPPED", [])
    assert await _dial_rows(conn, "U1") == 3
    await _set_member(conn, "U1", status="callback")
    got = await run.round(_call("not-success", "U1", phone, dupdiallist="ignoreSuccess"))
    assert got["not-success"]["status"] == "UPDATED"
    assert await _dial_rows(conn, "U1") == 4

    # main-table campaigns: U5 belongs to M1; U6 to no campaign any more
    await conn.execute("DELETE FROM campaign_records WHERE tenant = $1 AND user_data = 'U6'", TENANT)
    await conn.execute("DELETE FROM dial_list WHERE tenant = $1 AND user_data = 'U6'", TENANT)
    got = await run.round(
        _call("cp-skip", "U5", "+442079460005", model_id="M2", changepackage="skip"),
        _call("cp-unassign-U5", "U5", "+442079460005", model_id="M2", changepackage="unassignToCurrent"),
        _call("cp-unassign-U6", "U6", "+442079460006", model_id="M2", changepackage="unassignToCurrent"),
    )
    assert [got[e]["status"] for e in ("cp-skip", "cp-unassign-U5", "cp-unassign-U6")] == [
        "SKIPPED",
        "SKIPPED",
        "ADDED",
    ]
    assert await _campaigns_of(conn, "U5") == ["M1"] and await _dial_rows(conn, "U5", "M2") == 0
    assert await _campaigns_of(conn, "U6") == ["M2"] and await _dial_rows(conn, "U6", "M2") == 1

    got = await run.round(_call("cp-reassign", "U5", "+442079460005", model_id="M2", changepackage="reassignToCurrent"))
    assert (got["cp-reassign"]["status"], got["cp-reassign"]["details"]) == ("ADDED", {"moved_from": ["M1"]})
    assert await _campaigns_of(conn, "U5") == ["M2"]
    assert (await _dial_rows(conn, "U5", "M1"), await _dial_rows(conn, "U5", "M2")) == (0, 1)
    assert {o["native"] for o in got.values()} == {SUCCESS}
