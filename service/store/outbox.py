"""The outbox: messages written with the effects, relayed to Kafka afterwards, kept for re-emission."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import orjson


@dataclass(slots=True)
class OutMessage:
    topic: str
    key: bytes | None
    payload: bytes
    headers: list[tuple[str, str]]
    event_source: str | None = None
    event_id: str | None = None
    reason: str = ""  # dead letters: why, for metrics


@dataclass(slots=True)
class Pending:
    seq: int
    topic: str
    key: bytes | None
    payload: bytes
    headers: list[tuple[str, bytes]]


async def add(conn: asyncpg.Connection, messages: list[OutMessage]) -> None:
    if not messages:
        return
    await conn.execute(
        "INSERT INTO outbox (topic, msg_key, payload, headers, event_source, event_id)"
        " SELECT t, k, p, h::jsonb, s, i"
        " FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::text[], $6::text[]) AS x(t, k, p, h, s, i)",
        [m.topic for m in messages],
        [m.key for m in messages],
        [m.payload for m in messages],
        [orjson.dumps(m.headers).decode() for m in messages],
        [m.event_source for m in messages],
        [m.event_id for m in messages],
    )


async def replay(conn: asyncpg.Connection, topic: str, events: list[tuple[str, str]]) -> int:
    """Queue again the original outcomes of already processed events; returns how many."""
    if not events:
        return 0
    status: str = await conn.execute(
        "INSERT INTO outbox (topic, msg_key, payload, headers)"
        ' SELECT o.topic, o.msg_key, o.payload, o.headers || \'[["replay", "true"]]\'::jsonb FROM outbox o'
        " JOIN unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(s, i, n)"
        " ON o.event_source = e.s AND o.event_id = e.i WHERE o.topic = $1 ORDER BY e.n, o.seq",
        topic,
        [e[0] for e in events],
        [e[1] for e in events],
    )
    return int(status.split()[-1])


_COLUMNS = "seq, topic, msg_key, payload, headers"


async def take(conn: asyncpg.Connection, limit: int, after: int = 0) -> list[Pending]:
    """The oldest unpublished, unparked messages with ``seq > after``, in order. Call inside the relay's
    transaction.

    ``after`` lets the relay skip what it has published: the partial index keeps an entry for every
    row published since the last VACUUM, and reading from 0 rechecks them all.
    """
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM outbox WHERE published_at IS NULL AND parked_at IS NULL AND seq > $2"
        " ORDER BY seq LIMIT $1",
        limit,
        after,
    )
    return _pending(rows)


async def take_ranges(conn: asyncpg.Connection, ranges: list[tuple[int, int]]) -> list[Pending]:
    """Unpublished messages whose seq lies in one of the inclusive ``ranges`` (gaps the relay saw)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM outbox o JOIN unnest($1::bigint[], $2::bigint[]) AS g(lo, hi)"
        " ON o.seq BETWEEN g.lo AND g.hi WHERE o.published_at IS NULL AND o.parked_at IS NULL ORDER BY o.seq",
        [lo for lo, _ in ranges],
        [hi for _, hi in ranges],
    )
    return _pending(rows)


def _pending(rows: list[asyncpg.Record]) -> list[Pending]:
    return [
        Pending(r["seq"], r["topic"], r["msg_key"], r["payload"], [(h, v.encode()) for h, v in r["headers"]])
        for r in rows
    ]


async def mark_published(conn: asyncpg.Connection, seqs: list[int]) -> None:
    await conn.execute("UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", seqs)


async def expire(conn: asyncpg.Connection, hours: float) -> int:
    status: str = await conn.execute(
        "DELETE FROM outbox WHERE published_at IS NOT NULL AND created_at < now() - make_interval(secs => $1)",
        hours * 3600,
    )
    return int(status.split()[-1])
