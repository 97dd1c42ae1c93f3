"""Erase people (``contact.erase``) inside the caller's transaction; see docs/erasure.md.

For each (tenant, UserData): its dial-list entries, campaign records and customer row (and so its
entries in the phone index) are deleted; outcomes about it kept in the outbox — published or not,
replay copies too — are reduced (:mod:`service.store.scrub`: an unpublished one goes out reduced);
dead letters mentioning it become placeholders. The caller holds the contacts' key locks.

Cost: the deletes use the tables' keys. Stored outcomes are found by their message key (the
UserData), dead letters by a search of every dead-letter row in the outbox: both read the whole
outbox once per erase event (it holds what the relay has not yet expired after
CIS_EVENT_ID_RETENTION_HOURS); measured in docs/erasure.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from service.model.erase import EraseRecord
from service.store import scrub

TABLES = ("customers", "campaign_records", "dial_list")  # deleted, in reverse order
Person = tuple[str, str]


@dataclass(slots=True)
class Erased:
    """What erasing one person did: rows removed and scrubbed per table (``dry_run``: would do)."""

    subject: str
    dry_run: bool
    details: dict[str, Any] = field(default_factory=dict)


class _DryRun(Exception):
    """Rolls a dry run's savepoint back."""


async def erase(conn: asyncpg.Connection, people: Sequence[EraseRecord], dry_run: bool = False) -> list[Erased]:
    """Erase ``people`` (one result each, in order); ``dry_run``: count only, change nothing."""
    if not people:
        return []
    counts: dict[str, Counter[Person]] = {}
    try:
        async with conn.transaction():  # a savepoint: a dry run is rolled back
            counts = await _erase(conn, people)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return [
        Erased(p.subject, dry_run, {name: n[(p.tenant, p.user_data)] for name, n in counts.items()}) for p in people
    ]


async def _erase(conn: asyncpg.Connection, people: Sequence[EraseRecord]) -> dict[str, Counter[Person]]:
    tenants, keys = [p.tenant for p in people], [p.user_data for p in people]
    counts: dict[str, Counter[Person]] = {}
    for table in reversed(TABLES):
        rows = await conn.fetch(
            f"DELETE FROM {table} t USING unnest($1::text[], $2::text[]) AS p(tenant, user_data)"
            " WHERE t.tenant = p.tenant AND t.user_data = p.user_data RETURNING t.tenant, t.user_data",
            tenants,
            keys,
        )
        counts[table] = Counter((r["tenant"], r["user_data"]) for r in rows)
    counts["outcomes"] = await _scrub_outcomes(conn, people)
    counts["dead_letters"] = await _scrub_dead_letters(conn, people)
    return counts


async def _scrub_outcomes(conn: asyncpg.Connection, people: Sequence[EraseRecord]) -> Counter[Person]:
    wanted = {(p.tenant, p.user_data) for p in people}
    rows = await conn.fetch(
        "SELECT seq, payload FROM outbox WHERE msg_key = ANY($1::bytea[]) AND headers @> $2::jsonb",
        sorted({p.user_data.encode() for p in people}),
        [["ce_type", scrub.OUTCOME_TYPE]],
    )
    seqs, payloads, new_keys, done = [], [], [], Counter[Person]()
    for r in rows:
        found = scrub.reduced_outcome(r["payload"], wanted)
        if found is not None:
            seqs.append(r["seq"])
            payloads.append(found[0])
            new_keys.append(found[1])
            done[found[2]] += 1
    await conn.execute(
        "UPDATE outbox o SET payload = x.p, msg_key = x.k"
        " FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) AS x(s, p, k) WHERE o.seq = x.s",
        seqs,
        payloads,
        new_keys,
    )
    return done


async def _scrub_dead_letters(conn: asyncpg.Connection, people: Sequence[EraseRecord]) -> Counter[Person]:
    rows = await conn.fetch(
        # candidates in one pass per expression over the body and key as encode(..., 'escape') writes
        # them and the headers as JSON text (a search per person and row was ten times slower);
        # mentions() then decides on the exact bytes
        "SELECT seq, payload, msg_key, headers FROM outbox"
        " WHERE headers @> $2::jsonb AND (encode(payload, 'escape') || ' ' || encode(coalesce(msg_key, ''::bytea),"
        " 'escape') || ' ' || headers::text) ~ ANY($1::text[])",
        scrub.patterns(people),
        [["ce_type", scrub.DEAD_LETTER_TYPE]],
    )
    seqs, headers, done = [], [], Counter[Person]()
    for r in rows:
        hdrs = [(k, v) for k, v in r["headers"]]
        named = [p for p in people if scrub.mentions(p, r["payload"], r["msg_key"], hdrs)]
        done.update((p.tenant, p.user_data) for p in named)
        if named:
            seqs.append(r["seq"])
            headers.append(orjson.dumps(scrub.placeholder_headers(hdrs)).decode())
    await conn.execute(
        "UPDATE outbox o SET payload = $2, msg_key = NULL, headers = x.h::jsonb"
        " FROM unnest($1::bigint[], $3::text[]) AS x(s, h) WHERE o.seq = x.s",
        seqs,
        scrub.PLACEHOLDER,
        headers,
    )
    return done
