"""The Dialler through the front door: seed 002's import examples, by DiallerCampaignsID and by
DiallerCampaignsName, posted to /dialler/contacts/import, get what the seed shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from service.config import Settings
from tests.frontdoor import api_user, start
from tests.seed_pipeline import contains, expand, load_case, setup_catalog
from tests.support import ServiceProcess

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "dialler"
IMPORT = "/dialler/contacts/import"
AUTH = ("dialler-api", "s3cret-pass")


@pytest.fixture
async def url(settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection) -> str:
    """A service with the front door on, the seed's campaigns and an API user of tenant acme."""
    await setup_catalog(conn, load_case(GOLDEN / "pipeline_catalog.json"))
    await api_user(conn, "acme", *AUTH)
    return start(spawn, settings)[1]


async def test_the_seed_examples_by_id_and_by_name(url: str, conn: asyncpg.Connection) -> None:
    by_id = (GOLDEN / "import_by_id.request.json").read_bytes()  # the seed's body, verbatim
    by_name = expand("@json-elided:import_by_name.seed.txt", GOLDEN)  # the seed's '...' removed
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=AUTH) as client:
        first = await client.post(IMPORT, content=by_id, headers={"Content-Type": "application/json"})
        second = await client.post(IMPORT, params={"overwriteDuplicates": "true"}, json=by_name)
    for response, case in ((first, "import_by_id"), (second, "import_by_name")):
        assert response.status_code == 200, response.text
        shown = load_case(GOLDEN / f"{case}.pipeline.json")["seed_shows"][0]["native"]
        assert contains(response.json(), shown) == [], case
    # the second call overwrote the first's contact (the same UserData in campaign 538)
    assert second.json()["records"][0]["DiallerCampaignsName"] == "My Campaign Name"
    assert await conn.fetchval("SELECT count(*) FROM campaign_records WHERE tenant = 'acme'") == 1


async def test_a_failed_contact_answers_400(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=AUTH) as client:
        r = await client.post(IMPORT, json={"Name": "No campaign", "PhoneNumber1": "+12125550100"})
        bad_flag = await client.post(IMPORT, params={"overwriteDuplicates": "maybe"}, json={})
    assert r.status_code == 400 and r.json()["status"] == 400 and r.json()["count"] == 0
    assert r.json()["message"] == "DiallerCampaignsID or DiallerCampaignsName is mandatory"
    assert bad_flag.status_code == 400
