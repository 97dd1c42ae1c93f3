"""importWS through the front door: seed 001's query string by GET and as a POST form answers the
``|Retuen|…`` text the dialect answers through Kafka (tests/golden/importws)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from service.config import Settings
from tests.frontdoor import start
from tests.seed_pipeline import load_case, setup_catalog
from tests.support import ServiceProcess

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "importws"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _case(name: str) -> tuple[str, str]:
    """The call string and the answer the golden file records for it through Kafka."""
    shown = load_case(GOLDEN / f"{name}.pipeline.json")["seed_shows"][0]["native"]
    return (GOLDEN / f"{name}.txt").read_text().strip(), shown


async def test_the_seed_query_string_by_get_and_post(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await setup_catalog(conn, load_case(GOLDEN / "pipeline_catalog.json"))
    _svc, url = start(spawn, settings)
    verbatim, refused = _case("001_query_string")  # the seed's placeholders: no such login
    filled, added = _case("001_query_string_filled")  # every placeholder a documented value
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        by_get = await client.get(f"/importws?{verbatim}")
        by_post = await client.post("/importws", content=filled, headers=FORM)
    assert (by_get.status_code, by_get.text) == (200, refused) == (200, "|Retuen|2|Retuen|authentication failed")
    assert (by_post.status_code, by_post.text) == (200, added) == (200, "|Retuen|1|Retuen|Success")
    assert by_post.headers["content-type"].startswith("text/plain")
    row = await conn.fetchrow("SELECT campaign, user_data FROM campaign_records WHERE tenant = 'team1'")
    assert row is not None and row["campaign"] == "2002"
