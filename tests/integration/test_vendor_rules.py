"""What the seeds' rules mean for the dialler and Thulium, through the whole pipeline (in process, real
PostgreSQL, shipped defaults): keys are never invented from the phones, overwriteDuplicates=false
never overwrites and never names a campaign the contact is not in, Thulium keeps dictionary_status_id
and answers ADDED for an added record whose numbers are suppressed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from service.catalog import store as catalog_store
from service.store import dnc
from tests.seed_pipeline import run_steps

HERE = Path(__file__).resolve().parent
ACME = {"tenants": ["acme"], "campaigns": [{"tenant": "acme", "campaign": c, "name": f"C{c}"} for c in ("538", "539")]}
SWITCHBOARD = "+4930901820"


def _dialler(event_id: str, contact: dict[str, Any], overwrite: bool | None = None, **step: Any) -> dict[str, Any]:
    data: Any = contact if overwrite is None else {"overwriteDuplicates": overwrite, "contact": contact}
    return {"id": event_id, "dialect": "dialler", "tenant": "acme", "data": data, **step}


def _data(messages: list[Any]) -> dict[str, Any]:
    """The outcomes by event id (a replayed event's re-sent outcomes under ``<id>#replay``)."""
    out: dict[str, Any] = {}
    for m in messages:
        d = m["value"]["data"]
        replay = ["replay", "true"] in m["headers"]
        out[d["event_id"] + ("#replay" if replay else "")] = d
    return out


async def test_dialler_without_userdata_is_a_new_contact_keyed_by_its_event(dsn: str, conn: asyncpg.Connection) -> None:
    anna = {"DiallerCampaignsID": 538, "Name": "Anna", "PhoneNumber1": SWITCHBOARD}
    bert = {"DiallerCampaignsID": 538, "Name": "Bert", "PhoneNumber1": SWITCHBOARD}
    steps = [_dialler("anna", anna), _dialler("bert", bert), _dialler("anna", anna)]  # the last: replayed
    got = _data(await run_steps(dsn, ACME, steps, HERE))

    assert [got[e]["status"] for e in ("anna", "bert", "anna#replay")] == ["ADDED", "ADDED", "ADDED"]
    keys = {got["anna"]["user_data"], got["bert"]["user_data"]}
    assert len(keys) == 2 and SWITCHBOARD not in keys and all(k.startswith("auto-") for k in keys)
    assert got["anna#replay"]["outcome_id"] == got["anna"]["outcome_id"]
    assert [got[e]["native"]["records"][0]["Name"] for e in ("anna", "bert")] == ["Anna", "Bert"]
    assert [w["code"] for w in got["bert"]["warnings"]] == ["dialler.user_data_generated"]
    rows = await conn.fetch("SELECT user_data, data->>'name' AS name FROM customers ORDER BY data->>'name'")
    assert [(r["user_data"], r["name"]) for r in rows] == [
        (got["anna"]["user_data"], "Anna"),
        (got["bert"]["user_data"], "Bert"),
    ]
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE phone = $1", SWITCHBOARD) == 2


async def test_dialler_userdata_match_without_overwrite_joins_the_campaign_as_stored(
    dsn: str, conn: asyncpg.Connection
) -> None:
    stored = {"DiallerCampaignsID": 538, "UserData": "U1", "Name": "Original", "PhoneNumber1": "+4930123456"}
    again = {**stored, "DiallerCampaignsID": 539, "Name": "Changed", "PhoneNumber1": "+4930654321"}
    steps = [
        _dialler("first", stored),
        _dialler("to-539", again, overwrite=False),
        _dialler("to-539-again", again, overwrite=False),
        _dialler("to-538", {**stored, "Name": "Changed"}, overwrite=False),
    ]
    got = _data(await run_steps(dsn, ACME, steps, HERE))

    assert [got[e]["status"] for e in ("first", "to-539", "to-539-again", "to-538")] == [
        "ADDED",
        "ADDED",
        "ALREADY_EXISTS",
        "ALREADY_EXISTS",
    ]
    for event, campaign in (("to-539", 539), ("to-539-again", 539), ("to-538", 538)):
        [record] = got[event]["native"]["records"]
        assert (record["DiallerCampaignsID"], record["Name"], record["PhoneNumber1"]) == (
            campaign,
            "Original",
            "+4930123456",
        ), event
        assert got[event]["native"]["status"] == 200
    row = await conn.fetchrow("SELECT version, data->>'name' AS name FROM customers WHERE user_data = 'U1'")
    assert (row["version"], row["name"]) == (1, "Original")
    members = await conn.fetch("SELECT campaign FROM campaign_records WHERE user_data = 'U1' ORDER BY campaign")
    assert [r["campaign"] for r in members] == ["538", "539"]
    dial = await conn.fetch("SELECT campaign, phone FROM dial_list WHERE user_data = 'U1' ORDER BY campaign")
    assert [(r["campaign"], r["phone"]) for r in dial] == [("538", "+4930123456"), ("539", "+4930123456")]


THULIUM = {
    "tenants": ["your-system-name"],
    "campaigns": [{"tenant": "your-system-name", "campaign": "00001", "name": "Outbound 00001"}],
}


def _crm(user: str, phone: str) -> dict[str, Any]:
    contact = {"user_data": user, "phones": [{"number": phone}]}
    data = {"tenant": "your-system-name", "campaign": "crm", "contacts": [contact]}
    return {"setup": True, "id": f"crm-{user}", "dialect": "contact.v1", "data": data}


async def test_thulium_keeps_dictionary_status_and_adds_suppressed_records(dsn: str, conn: asyncpg.Connection) -> None:
    await catalog_store.add_tenant(conn, "your-system-name")
    await dnc.add_list(conn, "your-system-name", "complaints", None)
    await dnc.add_numbers(conn, [("your-system-name", "complaints", "+48221234567", None)])
    records = [{"customer_id": 441, "dictionary_status_id": 8}, {"customer_id": 445, "dictionary_status_id": "12"}]
    thulium = {"id": "00001", "records": records}
    steps = [
        _crm("441", "+48221234567"),
        _crm("445", "+48227654321"),
        {"id": "batch", "dialect": "thulium", "tenant": "your-system-name", "data": thulium},
    ]
    got = sorted((m["value"]["data"] for m in await run_steps(dsn, THULIUM, steps, HERE)), key=lambda d: d["user_data"])

    suppressed, plain = got
    assert suppressed["native"] == {
        "441": {
            "http_status": 201,
            "record_id": suppressed["record_id"],
            "status": "ADDED",
            "message": "Added; not queued: every phone number is on a do-not-call list.",
        }
    }
    assert suppressed["details"]["suppressed"] == [
        {"phone": "+48221234567", "list": "complaints", "tenant": "your-system-name"}
    ]
    assert plain["native"]["445"]["status"] == "ADDED" and plain["native"]["445"]["http_status"] == 201
    assert [d["contact"]["dictionary_status"] for d in got] == ["8", "12"]
    rows = await conn.fetch("SELECT user_data, dictionary_status FROM campaign_records WHERE campaign = '00001'")
    assert sorted((r["user_data"], r["dictionary_status"]) for r in rows) == [("441", "8"), ("445", "12")]
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE campaign = '00001'") == 1
