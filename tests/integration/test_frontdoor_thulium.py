"""Thulium through the front door: the seed's curl call with only the host changed gets the seed's
response (the record ids are this database's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from service.config import Settings
from tests.frontdoor import api_user, start
from tests.seed_pipeline import setup_catalog
from tests.support import ServiceProcess, contact, contacts_event, outcomes, produce

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "thulium"
TENANT = "your-system-name"
# seed 004: curl -u api_user:api_pass -k -X POST -H "Content-type: application/json" -d '…' "https://…/records"
SEED_PATH = "/api/batch/crm_outbounds/00001/records"


def _golden(name: str) -> Any:
    return orjson.loads((GOLDEN / name).read_bytes())


async def test_the_seed_curl_call(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await setup_catalog(conn, _golden("pipeline_catalog.json"))
    await api_user(conn, TENANT, "api_user", "api_pass")
    _svc, url = start(spawn, settings)
    # the seed's CRM state: 441 exists in another campaign, 445 is already in 00001, 448 does not exist
    setup = [
        contacts_event(TENANT, [contact("441", phone="+48221234567")], campaign="00002", event_id="crm-1"),
        contacts_event(TENANT, [contact("445", phone="+48227654321")], campaign="00001", event_id="crm-2"),
    ]
    await produce(settings, setup, key=TENANT.encode())
    assert [o["status"] for o in await outcomes(settings, expect=2)] == ["ADDED", "ADDED"]

    body = (GOLDEN / "request_body_curl.json").read_bytes()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        r = await client.post(
            SEED_PATH, content=body, headers={"Content-type": "application/json"}, auth=("api_user", "api_pass")
        )
    assert r.status_code == 200, r.text
    got, expected = r.json(), _golden("response.json")
    assert list(got) == list(expected) == ["441", "445", "448"]
    for key in ("441", "445"):  # the vendor's record ids are its database's; ours are ours
        assert isinstance(got[key]["record_id"], int)
        expected[key]["record_id"] = got[key]["record_id"]
    assert got == expected
    stored = await conn.fetchval(
        "SELECT id FROM campaign_records WHERE tenant = $1 AND campaign = '00001' AND user_data = '441'", TENANT
    )
    assert stored == got["441"]["record_id"]
