"""The front door's refusals and promises: a wrong password, another tenant, an over-size body, the
rate limit, an Idempotency-Key retry, and 202 with a Location to poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from service.catalog import store as catalog_store
from service.config import Settings
from tests.frontdoor import api_user, start
from tests.support import ServiceProcess, contact, contacts_event

AUTH = ("crm-api", "crm-pass")
STRUCTURED = {"Content-Type": "application/cloudevents+json"}


async def _catalog(conn: asyncpg.Connection) -> None:
    for tenant in ("acme", "other"):
        await catalog_store.add_tenant(conn, tenant)
    await api_user(conn, "acme", *AUTH)


def _event(tenant: str, user_data: str, event_id: str) -> dict[str, Any]:
    return contacts_event(tenant, [contact(user_data)], event_id=event_id)


async def test_refusals_and_the_idempotent_retry(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _catalog(conn)
    # a small body limit and rate so that both can be crossed here (defaults: 1 MiB, 20/s burst 40)
    _svc, url = start(spawn, settings, frontdoor_max_body_bytes=4096, frontdoor_rate_per_s=0.01, frontdoor_rate_burst=6)
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=AUTH) as client:
        wrong = await client.post("/events", json=_event("acme", "x", "w-1"), auth=("crm-api", "nope"))
        other = await client.post("/events", json=_event("other", "x", "o-1"), headers=STRUCTURED)
        big = await client.post("/events", content=b"{" + b" " * 5000 + b"}", headers=STRUCTURED)
        retry = {"Idempotency-Key": "order-17"}
        first = await client.post("/events", json=_event("acme", "i-1", "i-1"), headers={**STRUCTURED, **retry})
        again = await client.post("/events", json=_event("acme", "i-2", "i-2"), headers={**STRUCTURED, **retry})
        answers = [await client.post("/events", json={}, headers=STRUCTURED) for _ in range(3)]
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    assert other.status_code == 403  # the caller is acme's
    assert big.status_code == 413
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()  # the first answer; the second body applied nothing
    assert [o["user_data"] for o in first.json()["outcomes"]] == ["i-1"]
    assert await conn.fetchval("SELECT count(*) FROM campaign_records WHERE tenant = 'acme'") == 1
    assert await conn.fetchval("SELECT count(*) FROM campaign_records WHERE tenant = 'other'") == 0
    assert [a.status_code for a in answers][-1] == 429


async def test_202_then_poll(
    settings: Settings, spawn: Callable[..., ServiceProcess], conn: asyncpg.Connection
) -> None:
    await _catalog(conn)
    # a wait shorter than any batch takes, so that the answer is 202 (default 5 s)
    _svc, url = start(spawn, settings, frontdoor_wait_s=0.001)
    async with httpx.AsyncClient(base_url=url, timeout=30, auth=AUTH) as client:
        accepted = await client.post("/events", json=_event("acme", "p-1", "p-1"), headers=STRUCTURED)
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["Location"]
        assert location == f"/events/{accepted.json()['event_id']}"
        polled = await client.get(location)
        for _ in range(600):
            if polled.status_code != 202:
                break
            polled = await client.get(location)
    assert polled.status_code == 200
    assert [o["status"] for o in polled.json()["outcomes"]] == ["ADDED"]
