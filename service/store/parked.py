"""Parked outbox messages: refused by the broker for good, out of the publishing order, kept until re-driven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
import orjson


@dataclass(slots=True)
class Parked:
    seq: int
    topic: str
    key: bytes | None
    size: int
    error: str
    created_at: datetime
    parked_at: datetime


async def park(conn: asyncpg.Connection, refused: list[tuple[int, str]]) -> None:
    """Take the rows ``(seq, error)`` out of the publishing order. Call inside the relay's transaction."""
    await conn.execute(
        "UPDATE outbox o SET parked_at = now(), park_error = r.e"
        " FROM unnest($1::bigint[], $2::text[]) AS r(s, e) WHERE o.seq = r.s",
        [s for s, _ in refused],
        [e[:1000] for _, e in refused],
    )


async def count(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL")
    return n


async def listing(conn: asyncpg.Connection, limit: int = 0) -> list[Parked]:
    """The parked rows, oldest first (at most ``limit``; 0: all)."""
    rows = await conn.fetch(
        "SELECT seq, topic, msg_key, octet_length(payload) AS size, park_error, created_at, parked_at"
        " FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq LIMIT $1",
        limit or None,
    )
    return [
        Parked(r["seq"], r["topic"], r["msg_key"], r["size"], r["park_error"] or "", r["created_at"], r["parked_at"])
        for r in rows
    ]


async def redrive(conn: asyncpg.Connection, seqs: list[int] | None) -> list[tuple[int, int]]:
    """Queue parked rows again (``seqs``, or all when None) as new rows at the end of the publishing order,
    keeping their event id (for re-emission); returns ``(old seq, new seq)`` pairs."""
    async with conn.transaction():
        rows = await conn.fetch(
            "DELETE FROM outbox WHERE parked_at IS NOT NULL AND ($1::bigint[] IS NULL OR seq = ANY($1::bigint[]))"
            " RETURNING seq, topic, msg_key, payload, headers, event_source, event_id, created_at",
            seqs,
        )
        rows = sorted(rows, key=lambda r: r["seq"])
        new = await conn.fetch(
            "INSERT INTO outbox (topic, msg_key, payload, headers, event_source, event_id, created_at)"
            " SELECT t, k, p, h::jsonb, s, i, c FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[],"
            " $5::text[], $6::text[], $7::timestamptz[]) WITH ORDINALITY AS x(t, k, p, h, s, i, c, n)"
            " ORDER BY n RETURNING seq",
            [r["topic"] for r in rows],
            [r["msg_key"] for r in rows],
            [r["payload"] for r in rows],
            [orjson.dumps(r["headers"]).decode() for r in rows],
            [r["event_source"] for r in rows],
            [r["event_id"] for r in rows],
            [r["created_at"] for r in rows],
        )
    return list(zip((r["seq"] for r in rows), sorted(r["seq"] for r in new), strict=True))
