"""``python -m bench.statements``: where a contact.v1 transaction's time goes, statement by statement.

No Kafka: the benchmark's contact.v1 events (100 contacts each, 20 % repeated keys, 1 % invalid) are
prepared and committed with the service's own ``Processor`` in chunks of ``--chunk`` contacts, on
one connection to a fresh pgserver PostgreSQL, one chunk after the other as the consumer does; after
each chunk the outbox rows are taken and marked published as a relay round does. Every statement's
wall time (sent → answered: Postgres's work plus the driver) is summed by statement, and printed per
record next to the Python time of preparing (decode, parse, validate, phones) and of the rest of the
transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections import defaultdict
from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord

from bench import workload
from bench.infra import Stack
from service.app import tune_gc
from service.catalog.store import load as load_catalog
from service.dialects import default_registry
from service.pipeline.processor import Processor
from service.store import db, outbox


class _Timed(asyncpg.Connection):  # type: ignore[misc]
    """A connection that sums each statement's wall time under its first words."""

    spent: dict[str, float]
    calls: dict[str, int]

    async def _timed(self, run: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await run(query, *args, **kwargs)
        finally:
            name = " ".join(query.split()[:5])[:60]
            self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - start
            self.calls[name] = self.calls.get(name, 0) + 1

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._timed(super().execute, query, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._timed(super().fetch, query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._timed(super().fetchval, query, *args, **kwargs)


async def measure(records: int, chunk: int) -> dict[str, Any]:
    stack = Stack()
    stack.start()
    try:
        async with stack.session("statements") as s:
            settings = s.settings()
            wl = workload.contact_v1_workload(records, 100)
            processor = Processor(settings, default_registry(settings.schema_dir))
            conn = await db.connect(s.dsn, connection_class=_Timed)
            assert isinstance(conn, _Timed)
            conn.spent, conn.calls = defaultdict(float), defaultdict(int)
            try:
                catalog = await load_catalog(conn)
                now_ms = int(time.time() * 1000)
                messages = [
                    ConsumerRecord("in", 0, i, now_ms, 0, k, v, None, len(k), len(v), [])
                    for i, (k, v) in enumerate(wl.messages)
                ]
                per = max(1, chunk // wl.per_event)
                expected: int | None = None
                prepare_s = commit_s = relay_s = 0.0
                for start in range(0, len(messages), per):
                    part = messages[start : start + per]
                    t0 = time.perf_counter()
                    prepared, dead = processor.prepare(part, catalog)
                    t1 = time.perf_counter()
                    await processor.commit(conn, prepared, dead, {("in", 0): (expected, part[-1].offset + 1)})
                    t2 = time.perf_counter()
                    async with conn.transaction():
                        taken = await outbox.take(conn, 100_000)
                        await outbox.mark_published(conn, [p.seq for p in taken])
                    relay_s += time.perf_counter() - t2
                    prepare_s, commit_s = prepare_s + t1 - t0, commit_s + t2 - t1
                    expected = part[-1].offset + 1
            finally:
                await conn.close()
    finally:
        stack.stop()
    per_record = {name: round(spent / records * 1e6, 1) for name, spent in conn.spent.items()}
    return {
        "records": records,
        "chunk": chunk,
        "prepare_us": round(prepare_s / records * 1e6, 1),
        "transaction_us": round(commit_s / records * 1e6, 1),
        "relay_round_us": round(relay_s / records * 1e6, 1),
        "sql_us": round(sum(conn.spent.values()) / records * 1e6, 1),
        "statements_us": dict(sorted(per_record.items(), key=lambda kv: -kv[1])),
        "calls": dict(conn.calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=1_000, help="contacts per transaction")
    args = parser.parse_args()
    tune_gc()  # as the service does
    out = asyncio.run(measure(args.records, args.chunk))
    gc.collect()
    print(
        f"{out['records']} records, {out['chunk']} per transaction; µs per record: prepare {out['prepare_us']},"
        f" transaction {out['transaction_us']}, relay round {out['relay_round_us']};"
        f" statements (sent -> answered, transactions and relay rounds) {out['sql_us']}:"
    )
    for name, us in out["statements_us"].items():
        print(f"{us:8.1f}  {out['calls'][name]:6d}x  {name}")


if __name__ == "__main__":
    main()
