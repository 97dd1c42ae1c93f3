"""thulium end to end: the seed's own request through a real service process, broker and Postgres
answers with the seed's own response (record ids aside), and the campaign rules hold in the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from service.catalog import store as catalog
from service.catalog.model import Campaign
from service.config import Settings
from tests.support import ServiceProcess, cloudevent, contact, contacts_event, outcomes, produce

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "thulium"
TENANT = "your-system-name"


def _golden(name: str) -> Any:
    return orjson.loads((GOLDEN / name).read_bytes())


def _thulium(data: dict[str, Any], event_id: str, tenant: str | None = TENANT) -> dict[str, Any]:
    event = cloudevent(data, dialect="thulium", event_id=event_id)
    if tenant is not None:
        event["tenant"] = tenant
    return event


def _merged(got: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    """The per-record native responses of one event, merged in record order: the vendor's response."""
    merged: dict[str, Any] = {}
    for o in sorted((o for o in got if o["event_id"] == event_id), key=lambda o: o["record_index"]):
        merged.update(o["native"])
    return merged


async def _setup_catalog(conn: asyncpg.Connection) -> None:
    await catalog.add_tenant(conn, TENANT)
    for campaign in ("00001", "00002"):
        await catalog.add_campaign(conn, Campaign(TENANT, campaign, f"Outbound {campaign}"))
        for status_id, name, system in [
            ("1", "New", None),
            ("3", "Interested", None),
            ("8", "My record", "MY_RECORD"),
            ("9", "Call no sooner than", "CALL_NO_SOONER_THAN"),
        ]:
            await catalog.add_status(conn, TENANT, campaign, status_id, name, system)


async def test_seed_request_end_to_end(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _setup_catalog(conn)
    svc = spawn(settings)
    svc.wait_log("partitions assigned")

    # customers 441 and 445 exist (441 in another campaign, 445 already in 00001); 448 does not
    setup = [
        contacts_event(TENANT, [contact("441", phone="+48221234567")], campaign="00002", event_id="crm-1"),
        contacts_event(TENANT, [contact("445", phone="+48227654321")], campaign="00001", event_id="crm-2"),
    ]
    await produce(settings, setup, key=TENANT.encode())
    assert [o["status"] for o in await outcomes(settings, expect=2)] == ["ADDED", "ADDED"]
    existing_445 = await conn.fetchval(
        "SELECT id FROM campaign_records WHERE tenant = $1 AND campaign = '00001' AND user_data = '445'", TENANT
    )

    # the seed's call: POST /api/batch/crm_outbounds/00001/records with the seed's body
    seed = _thulium({"id": "00001", **_golden("request_body.json")}, "thulium-seed")
    # every parameter's example value: 445 into 00002 as MY_RECORD; 441 as MY_RECORD without an agent
    example = {
        "id": "00002",
        "tenant": TENANT,  # the tenant as a field instead of the CloudEvents attribute
        "records": [
            {**_golden("example_values.json")["records"][0], "customer_id": "445"},
            {"customer_id": 441, "status_id": 8, "next_call_date": "2018-05-24 12:24"},
        ],
    }
    no_tenant = _thulium({"id": "00001", "records": [{"customer_id": 441}]}, "thulium-no-tenant", tenant=None)
    await produce(settings, [seed, _thulium(example, "thulium-example", tenant=None), no_tenant], key=TENANT.encode())
    got = await outcomes(settings, expect=8)
    assert len(got) == 8

    # the seed's response, exactly, except the record ids the database assigned
    response = _merged(got, "thulium-seed")
    expected = _golden("response.json")
    assert list(response) == list(expected) == ["441", "445", "448"]
    for key in ("441", "445"):
        assert isinstance(response[key]["record_id"], int) and not isinstance(response[key]["record_id"], bool)
        expected[key]["record_id"] = response[key]["record_id"]
    assert orjson.dumps(response) == orjson.dumps(expected)
    assert response["445"]["record_id"] == existing_445
    added_441 = await conn.fetchrow(
        "SELECT id, status FROM campaign_records WHERE tenant = $1 AND campaign = '00001' AND user_data = '441'",
        TENANT,
    )
    assert added_441 is not None and (added_441["id"], added_441["status"]) == (response["441"]["record_id"], "3")
    seed_outcomes = sorted((o for o in got if o["event_id"] == "thulium-seed"), key=lambda o: o["record_index"])
    assert [o["status"] for o in seed_outcomes] == ["ADDED", "ALREADY_EXISTS", "FAILED"]
    assert seed_outcomes[2]["errors"][0]["code"] == "customer.not_found"
    # the added customer's known phone is queued in the campaign; the unknown customer was not created
    assert seed_outcomes[0]["dial_list"] == [{"phone": "+48221234567", "time_zones": ["Europe/Warsaw"]}]
    phones = await conn.fetch(
        "SELECT phone FROM dial_list WHERE tenant = $1 AND campaign = '00001' AND user_data = '441'", TENANT
    )
    assert [r["phone"] for r in phones] == ["+48221234567"]
    assert await conn.fetchval("SELECT count(*) FROM customers WHERE tenant = $1 AND user_data = '448'", TENANT) == 0

    # MY_RECORD with every example value lands on the membership; without an agent it fails
    example_response = _merged(got, "thulium-example")
    assert example_response["445"]["status"] == "ADDED" and example_response["445"]["http_status"] == 201
    assert example_response["441"] == {
        "http_status": 400,
        "status": "FAILED",
        "message": "agent_login is required for status MY_RECORD.",
    }
    row = await conn.fetchrow(
        "SELECT id, status, agent, priority, next_call_at FROM campaign_records"
        " WHERE tenant = $1 AND campaign = '00002' AND user_data = '445'",
        TENANT,
    )
    assert row is not None and row["id"] == example_response["445"]["record_id"]
    assert (row["status"], row["agent"], row["priority"]) == ("8", "j.doe", 50)
    assert row["next_call_at"] == datetime(2018, 5, 24, 12, 24, tzinfo=UTC)

    # no tenant anywhere: FAILED with a clear code, nothing written
    failed = [o for o in got if o["event_id"] == "thulium-no-tenant"]
    assert [(o["status"], o["errors"][0]["code"]) for o in failed] == [("FAILED", "thulium.tenant_missing")]
    assert await conn.fetchval("SELECT count(*) FROM campaign_records WHERE tenant = $1", TENANT) == 4
