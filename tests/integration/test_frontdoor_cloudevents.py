"""contact.v1 by the CloudEvents HTTP binding on POST /events: structured and binary mode, the same
answer (the outcomes); the caller's tenant is the event's."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import httpx
import orjson

from service.catalog import store as catalog_store
from service.config import Settings
from tests.frontdoor import api_user, start
from tests.support import ServiceProcess, contact, contacts_event

AUTH = ("crm-api", "crm-pass")


async def test_structured_and_binary_mode(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await catalog_store.add_tenant(conn, "acme")
    await api_user(conn, "acme", *AUTH)
    _svc, url = start(spawn, settings)
    structured = contacts_event("acme", [contact("c-1"), contact("c-2", phone="+12125550101")], event_id="s-1")
    binary = {k: v for k, v in contacts_event("acme", [contact("c-3")], event_id="b-1").items() if k != "data"}
    data = {"campaign": "camp", "contacts": [contact("c-3")]}  # no tenant: the caller's
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=AUTH) as client:
        one = await client.post(
            "/events", content=orjson.dumps(structured), headers={"Content-Type": "application/cloudevents+json"}
        )
        two = await client.post("/events", json=data, headers={f"ce-{k}": str(v) for k, v in binary.items()})
    assert one.status_code == 200, one.text
    assert [(o["user_data"], o["status"], o["tenant"]) for o in one.json()["outcomes"]] == [
        ("c-1", "ADDED", "acme"),
        ("c-2", "ADDED", "acme"),
    ]
    assert two.status_code == 200, two.text
    assert [(o["user_data"], o["status"], o["tenant"]) for o in two.json()["outcomes"]] == [("c-3", "ADDED", "acme")]
    assert await conn.fetchval("SELECT count(*) FROM campaign_records WHERE tenant = 'acme'") == 3
