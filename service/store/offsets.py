"""Consumed offsets, stored with the effects they cover and fenced against a second owner."""

from __future__ import annotations

import asyncpg

from service.errors import FencedError


async def stored(conn: asyncpg.Connection, group: str, topic: str, partitions: list[int]) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM consumer_offsets"
        " WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])",
        group,
        topic,
        partitions,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def advance(
    conn: asyncpg.Connection,
    group: str,
    topic: str,
    moves: dict[int, tuple[int | None, int]],
) -> None:
    """Move each partition from its expected offset to the next one, first thing in the transaction.

    ``moves`` maps partition to ``(expected, next)``; ``expected`` is what this consumer read from
    the table when it was assigned the partition (``None`` if there was no row). If another consumer
    moved the offset meanwhile, the row no longer matches and :class:`FencedError` is raised so the
    whole transaction rolls back. The row lock taken here also serialises two owners of one partition.
    """
    parts = sorted(moves)
    rows = await conn.fetch(
        "INSERT INTO consumer_offsets AS o (group_id, topic, partition, next_offset)"
        " SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS m(p, e, n)"
        " ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
        " updated_at = now()"
        " WHERE o.next_offset = (SELECT e FROM unnest($3::int[], $4::bigint[]) AS x(p, e)"
        " WHERE x.p = EXCLUDED.partition)"
        " RETURNING partition",
        group,
        topic,
        parts,
        [moves[p][0] for p in parts],
        [moves[p][1] for p in parts],
    )
    done = {r["partition"] for r in rows}
    lost = [p for p in parts if p not in done]
    if lost:
        raise FencedError(f"offsets of {topic} partitions {lost} were moved by another consumer")
