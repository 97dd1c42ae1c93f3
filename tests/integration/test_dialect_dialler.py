"""The dialler dialect end to end: the seed's own example through a real service process, broker and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from service.catalog import store as catalog_store
from service.catalog.model import Campaign
from service.config import Settings
from tests.support import ROOT, ServiceProcess, cloudevent, outcomes, produce

GOLDEN = ROOT / "tests" / "golden" / "dialler"


def _event(data: Any, event_id: str, tenant: str | None = "acme") -> dict[str, Any]:
    event = cloudevent(data, dialect="dialler", event_id=event_id)
    if tenant is not None:
        event["tenant"] = tenant
    return event


async def test_dialler_import_overwrite_keep_and_failures(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog_store.add_tenant(conn, "acme")
    await catalog_store.add_campaign(conn, Campaign("acme", "538", "My Campaign Name"))
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    seed = orjson.loads((GOLDEN / "import_by_id.request.json").read_bytes())
    by_name = orjson.loads((GOLDEN / "import_by_name.seed.txt").read_text().replace("...", ""))
    renamed = {**by_name, "Name": "Renamed", "dtBeginDate": "2021-06-01T08:00:00+02:00", "PhoneNumber6": None}
    first = [_event(seed, "d-1"), _event({"overwriteDuplicates": True, "contact": renamed}, "d-2")]
    await produce(settings, first, key=b"testUserData")
    await outcomes(settings, expect=2)  # committed: the next events read the contact back from Postgres
    later = [
        _event({"overwriteDuplicates": False, "contact": {**seed, "Name": "Ignored"}}, "d-3"),
        _event(seed, "d-4", tenant=None),
        _event({**seed, "DiallerCampaignsID": 999}, "d-5"),
    ]
    await produce(settings, later, key=b"testUserData")
    got = {o["event_id"]: o for o in await outcomes(settings, expect=5)}
    assert {e: o["status"] for e, o in got.items()} == {
        "d-1": "ADDED",
        "d-2": "UPDATED",
        "d-3": "ALREADY_EXISTS",
        "d-4": "FAILED",
        "d-5": "FAILED",
    }

    # the seed's example: exactly the golden native response, the seed's response fields included
    assert got["d-1"]["native"] == orjson.loads((GOLDEN / "import_by_id.native.json").read_bytes())
    assert got["d-1"]["campaign"] == "538" and got["d-1"]["user_data"] == "testUserData"
    # its numbers are the placeholders "PhoneNumber1".."6": kept and flagged (bPhoneNumberNInvalid), one warning each
    assert [(w["code"], w["path"]) for w in got["d-1"]["warnings"]] == [
        ("phone.invalid", f"/PhoneNumber{n}") for n in range(1, 7)
    ]
    assert got["d-1"]["dial_list"] == []

    # overwriteDuplicates true, campaign by name: replaced; the garbled keys are warnings and attributes
    second = got["d-2"]
    assert [w["path"] for w in second["warnings"] if w["code"] != "phone.invalid"] == [
        "/contact/dtBeginDateUserData",
        "/contact/dtEndDateClient",
        "/contact/ManufacturerService",
        "/contact/ModelReferenceNumber",
        "/contact/TagName",
    ]
    assert {w["code"] for w in second["warnings"]} == {"dialler.unknown_field", "phone.invalid"}
    assert second["contact"]["attributes"]["TagName"] == "TagName"
    [record] = second["native"]["records"]
    assert record["Name"] == "Renamed" and record["Tag"] is None and record["PhoneNumber6"] is None
    assert (record["dtBeginDate"], record["dtEndDate"]) == ("2021-06-01T06:00:00", None)
    assert (record["DiallerCampaignsID"], record["DiallerCampaignsName"]) == (538, "My Campaign Name")

    # overwriteDuplicates false: the existing contact is kept and returned
    [kept] = got["d-3"]["native"]["records"]
    assert got["d-3"]["native"]["status"] == 200
    assert kept["Name"] == "Renamed" and kept["dtBeginDate"] == "2021-06-01T06:00:00"

    # failures: a clear code, the vendor's error shape
    assert got["d-4"]["errors"][0]["code"] == "dialler.tenant_missing"
    assert got["d-4"]["native"] == {
        "records": [],
        "count": 0,
        "status": 400,
        "message": "the CloudEvents attribute 'tenant' is missing",
    }
    assert got["d-5"]["errors"][0]["code"] == "dialler.campaign_unknown"
    assert got["d-5"]["native"]["status"] == 400 and got["d-5"]["native"]["records"] == []

    # what Postgres holds: the replaced contact, its dialling window, its five remaining phones in order
    # (the placeholders, flagged invalid, so none of them is on the dial list)
    row = await conn.fetchrow("SELECT data, version FROM customers WHERE user_data = 'testUserData'")
    assert row["version"] == 2 and row["data"]["name"] == "Renamed"
    assert row["data"]["fields"]["AccountIBAN"] == "AccountIBAN" and "Tag" not in row["data"]["fields"]
    member = await conn.fetchrow("SELECT window_begin, window_end FROM campaign_records WHERE campaign = '538'")
    assert member["window_begin"].isoformat() == "2021-06-01T06:00:00+00:00" and member["window_end"] is None
    stored = [(p["number"], p["type"], p["invalid"]) for p in row["data"]["phones"]]
    assert stored == [(f"PhoneNumber{n}", f"PhoneNumber{n}", True) for n in range(1, 6)]
    assert await conn.fetchval("SELECT count(*) FROM dial_list WHERE campaign = '538'") == 0
    assert await conn.fetchval("SELECT count(*) FROM customers") == 1
