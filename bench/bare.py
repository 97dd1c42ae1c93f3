"""The bare-Postgres limit: the same rows, COPY into a staging table, one upsert per 5k batch.

No Kafka, no validation, no outbox: what one Postgres connection can absorb when the client does
nothing but bulk-load. The clock covers the COPYs and upserts only (the rows are built beforehand).
"""

from __future__ import annotations

import os
import time
from typing import Any

import asyncpg

from bench import cpu
from bench.infra import Stack

STAGE = (
    "CREATE TEMP TABLE stage (seq bigint, tenant text, user_data text, data text, content_hash text)"
    " ON COMMIT DELETE ROWS"
)
# the last row of a key in the batch wins (an upsert cannot touch a row twice); identical content is left alone
UPSERT = (
    "INSERT INTO customers_bare AS c (tenant, user_data, data, content_hash)"
    " SELECT DISTINCT ON (tenant, user_data) tenant, user_data, data::jsonb, content_hash FROM stage"
    " ORDER BY tenant, user_data, seq DESC"
    " ON CONFLICT (tenant, user_data) DO UPDATE SET data = EXCLUDED.data, content_hash = EXCLUDED.content_hash,"
    " version = c.version + 1, updated_at = now() WHERE c.content_hash <> EXCLUDED.content_hash"
)


async def bare_postgres(stack: Stack, rows: list[tuple[int, str, str, str, str]], batch: int = 5000) -> dict[str, Any]:
    async with stack.session("bare") as session:
        conn = await asyncpg.connect(session.dsn)
        try:
            await conn.execute("CREATE TABLE customers_bare (LIKE customers INCLUDING ALL)")
            await conn.execute(STAGE)
            meter = cpu.CpuMeter(
                {"postgres": lambda: cpu.postgres_pids(stack.database.path), "harness": lambda: [os.getpid()]}
            )
            meter.start()
            t0 = time.perf_counter()
            for start in range(0, len(rows), batch):
                async with conn.transaction():
                    await conn.copy_records_to_table("stage", records=rows[start : start + batch])
                    await conn.execute(UPSERT)
            elapsed = time.perf_counter() - t0
            used = meter.stop()
            stored = int(await conn.fetchval("SELECT count(*) FROM customers_bare"))
        finally:
            await conn.close()
    distinct = len({r[2] for r in rows})
    return {
        "records": len(rows),
        "seconds": round(elapsed, 3),
        "rate": round(len(rows) / elapsed, 1),
        "stored": stored,
        "ok": stored == distinct,
        "batch": batch,
        "cpu_s": used,
        "cpu_us_per_record": {k: round(v / len(rows) * 1e6, 1) if v is not None else None for k, v in used.items()},
    }
