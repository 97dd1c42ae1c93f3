"""EXPLAIN the phone-fallback lookup (``service.store.contacts.phone_match_query``) on a table of
customers: does it run on the GIN index ``customers_phones``?

    .venv/bin/python -m bench.explain_phone_match [--customers 100000] [--batch 500] [--fastupdate] [--vacuum]

Starts its own pgserver PostgreSQL in a temp folder, migrates a fresh database, loads the customers
(two phones each, in E.164; ten tenants; one membership each), ANALYZEs, then prints the plans with
EXPLAIN (ANALYZE, BUFFERS) for one number and for a batch of numbers, as a custom plan (the values
known) and as the generic plan a cached prepared statement may switch to. ``--fastupdate`` loads with
GIN's fast update on (as before migration 008), ``--vacuum`` empties the pending list before the lookups.
Exits 1 when a plan does not use the index.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import asyncpg
import orjson

from service.cli.embedded import Database
from service.store.contacts import phone_match_query
from service.store.migrate import migrate

INDEX = "customers_phones"
TENANTS = 10
WIDTH = 160  # plan lines cut here (the batch arrays are long)


def _phone(i: int, slot: int) -> str:
    return f"+4420{7000_0000 + i * 2 + slot:08d}"  # distinct London numbers


async def _load(conn: asyncpg.Connection, customers: int) -> None:
    rows = []
    for i in range(customers):
        data = {"user_data": f"U{i}", "phones": [{"number": _phone(i, 0)}, {"number": _phone(i, 1), "type": "mobile"}]}
        rows.append((f"t{i % TENANTS}", f"U{i}", orjson.dumps(data).decode(), "h"))
    await conn.copy_records_to_table("customers", records=rows, columns=["tenant", "user_data", "data", "content_hash"])
    members = [(t, "c1", u) for t, u, _, _ in rows]
    await conn.copy_records_to_table("campaign_records", records=members, columns=["tenant", "campaign", "user_data"])
    await conn.execute("ANALYZE customers; ANALYZE campaign_records")


async def _explain(conn: asyncpg.Connection, numbers: list[str], generic: bool) -> str:
    sql, *args = phone_match_query(numbers, [f"t{n}" for n in range(TENANTS)])
    await conn.execute(f"SET plan_cache_mode = {'force_generic_plan' if generic else 'auto'}")
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    return "\n".join(r[0] if len(r[0]) <= WIDTH else r[0][:WIDTH] + " …" for r in rows)


async def main(customers: int, batch: int, vacuum: bool, fastupdate: bool) -> int:
    base = Path(tempfile.mkdtemp(prefix="cis-explain-"))
    database = Database(base / "pg")
    failures = 0
    try:
        admin = await asyncpg.connect(database.start())
        await admin.execute("CREATE DATABASE explain_phone_match")
        await admin.close()
        conn = await asyncpg.connect(database.dsn("explain_phone_match"))
        try:
            await migrate(conn)
            if fastupdate:
                await conn.execute(f"ALTER INDEX {INDEX} SET (fastupdate = on)")
            started = time.perf_counter()
            await _load(conn, customers)
            print(f"loaded {customers} customers in {time.perf_counter() - started:.2f} s (COPY, index maintained)")
            if vacuum:
                await conn.execute("VACUUM customers")
            step = max(1, customers // batch)
            cases = {
                "one number": [_phone(customers // 2, 1)],
                f"{batch} numbers": [_phone(i, 0) for i in range(0, customers, step)][:batch],
            }
            for name, numbers in cases.items():
                for generic in (False, True):
                    plan = await _explain(conn, numbers, generic)
                    uses = INDEX in plan
                    failures += not uses
                    kind = "generic plan" if generic else "custom plan"
                    print(f"== {name}, {kind}: {'uses' if uses else 'DOES NOT use'} {INDEX}\n{plan}\n")
        finally:
            await conn.close()
    finally:
        database.stop()
        shutil.rmtree(base, ignore_errors=True)
    return failures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--vacuum", action="store_true", help="VACUUM after loading (empties the GIN pending list)")
    parser.add_argument(
        "--fastupdate", action="store_true", help="the index as before migration 008: GIN fast update on"
    )
    args = parser.parse_args()
    raise SystemExit(1 if asyncio.run(main(args.customers, args.batch, args.vacuum, args.fastupdate)) else 0)
