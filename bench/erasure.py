"""What one erase request costs (``service.store.erasure.erase``) against a filled store and outbox.

    .venv/bin/python -m bench.erasure [--customers 100000] [--outbox 200000] [--dead-letters 20000]

Starts its own pgserver PostgreSQL in a temp folder, migrates a fresh database, fills it (each
customer with one campaign record and two dial-list entries; the outbox with outcomes keyed by
UserData, half of them about the customers, and dead letters of ~300 bytes), ANALYZEs, then erases
1, 100 and 1000 people, each in a transaction rolled back (so every run sees the same store), three
times, and prints the median wall time of each. The cost is Postgres's: the client only waits.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from bench.infra import Stack
from service.model.erase import EraseRecord
from service.store import db, erasure, scrub

FILL = [
    "INSERT INTO customers (tenant, user_data, data, content_hash) SELECT 't', 'U' || i,"
    " jsonb_build_object('user_data', 'U' || i, 'name', 'Name ' || i, 'phones',"
    " jsonb_build_array(jsonb_build_object('number', '+44207' || lpad(i::text, 7, '0')))), 'h'"
    " FROM generate_series(1, $1) i",
    "INSERT INTO campaign_records (tenant, campaign, user_data)"
    " SELECT 't', 'c1', 'U' || i FROM generate_series(1, $1) i",
    "INSERT INTO dial_list (tenant, campaign, user_data, phone)"
    " SELECT 't', 'c1', 'U' || i, '+44207' || lpad(i::text, 7, '0')"
    " FROM generate_series(1, $1) i, generate_series(1, 2) j",
]
OUTCOMES = (
    "INSERT INTO outbox (topic, msg_key, payload, headers, published_at)"
    " SELECT 'out', convert_to('U' || (i % ($2 * 2)), 'UTF8'),"
    " convert_to(jsonb_build_object('data', jsonb_build_object('tenant', 't', 'user_data', 'U' || (i % ($2 * 2)),"
    " 'status', 'ADDED', 'contact', jsonb_build_object('name', 'Name ' || i)))::text, 'UTF8'), $3::jsonb, now()"
    " FROM generate_series(1, $1) i"
)
DEAD = (
    "INSERT INTO outbox (topic, payload, headers, published_at) SELECT 'dlq',"
    " convert_to(repeat('not json ', 30) || 'X' || i, 'UTF8'), $2::jsonb, now() FROM generate_series(1, $1) i"
)


async def _fill(conn: asyncpg.Connection, customers: int, outbox: int, dead: int) -> None:
    for sql in FILL:
        await conn.execute(sql, customers)
    await conn.execute(OUTCOMES, outbox, customers, [["ce_type", scrub.OUTCOME_TYPE]])
    await conn.execute(DEAD, dead, [["ce_type", scrub.DEAD_LETTER_TYPE]])
    await conn.execute("ANALYZE")


async def _erase_s(conn: asyncpg.Connection, people: list[EraseRecord]) -> float:
    tx = conn.transaction()
    await tx.start()
    try:
        started = time.perf_counter()
        done = await erasure.erase(conn, people)
        elapsed = time.perf_counter() - started
        assert all(d.details["customers"] == 1 for d in done)
        return elapsed
    finally:
        await tx.rollback()


async def main(customers: int, outbox: int, dead: int) -> None:
    stack = Stack()
    stack.start()
    try:
        conn = await db.connect(await stack.fresh_database("erasure"))
        try:
            await _fill(conn, customers, outbox, dead)
            print(f"{customers} customers, {outbox} outcomes and {dead} dead letters in the outbox")
            for n in (1, 100, 1000):
                step = max(1, customers // n)
                people = [EraseRecord("t", f"U{i}") for i in range(1, customers + 1, step)][:n]
                runs = [await _erase_s(conn, people) for _ in range(3)]
                print(f"erase {n:>4} people: {statistics.median(runs) * 1000:8.1f} ms (median of 3)")
        finally:
            await conn.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--outbox", type=int, default=200_000, help="outcome rows")
    parser.add_argument("--dead-letters", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.outbox, args.dead_letters))
