"""Processed event ids: an event id seen within the retention window is not applied again."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, events: list[tuple[str, str, str, int, str | None]]) -> set[tuple[str, str]]:
    """Record ``(source, id, dialect, records, tenant)`` events; returns the (source, id) pairs that are new."""
    if not events:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events (event_source, event_id, dialect, records, tenant)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[])"
        " ON CONFLICT DO NOTHING RETURNING event_source, event_id",
        *[[e[i] for e in events] for i in range(5)],
    )
    return {(r["event_source"], r["event_id"]) for r in rows}


async def tenants(conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """The tenant each already processed (source, id) was claimed for (``None``: not recorded)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT p.event_source, p.event_id, p.tenant FROM processed_events p"
        " JOIN unnest($1::text[], $2::text[]) AS k(s, i) ON p.event_source = k.s AND p.event_id = k.i",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["event_source"], r["event_id"]): r["tenant"] for r in rows}


async def expire(conn: asyncpg.Connection, hours: float) -> int:
    """Forget event ids older than the window; returns how many were forgotten."""
    status: str = await conn.execute(
        "DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => $1)",
        hours * 3600,
    )
    return int(status.split()[-1])
