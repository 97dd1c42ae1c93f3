"""Processed event ids: an event id seen within the retention window is not applied again."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, events: list[tuple[str, str, str, int]]) -> set[tuple[str, str]]:
    """Record ``(source, id, dialect, records)`` events; returns the (source, id) pairs that are new."""
    if not events:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events (event_source, event_id, dialect, records)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])"
        " ON CONFLICT DO NOTHING RETURNING event_source, event_id",
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
        [e[3] for e in events],
    )
    return {(r["event_source"], r["event_id"]) for r in rows}


async def expire(conn: asyncpg.Connection, hours: float) -> int:
    """Forget event ids older than the window; returns how many were forgotten."""
    status: str = await conn.execute(
        "DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => $1)",
        hours * 3600,
    )
    return int(status.split()[-1])
