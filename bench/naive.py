"""The naive baseline: per record, one autocommitted upsert and one produce. No validation, no batching.

This is how a first-cut consumer is usually written (and what several sink connectors do): read an
event, then for each record ``INSERT … ON CONFLICT`` in its own implicit transaction and publish an
outcome. The produce is not awaited per record and the client batches it (linger 5 ms, Kafka's
producer default since 4.0): the generous reading.

Run by the harness as ``python -m bench.naive BOOTSTRAP DSN INPUT_TOPIC RESULTS_TOPIC``; prints
``ready`` once it reads the input, and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sys

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.kafka_io import producer

UPSERT = (
    "INSERT INTO customers (tenant, user_data, data, content_hash) VALUES ($1, $2, $3::jsonb, $4)"
    " ON CONFLICT (tenant, user_data) DO UPDATE SET data = EXCLUDED.data,"
    " content_hash = EXCLUDED.content_hash, version = customers.version + 1, updated_at = now()"
)


async def consume(bootstrap: str, dsn: str, input_topic: str, results_topic: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    conn = await asyncpg.connect(dsn)
    prod = producer(bootstrap)  # linger 5 ms, acks=all
    await prod.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        parts = consumer.partitions_for_topic(input_topic) or set()
        consumer.assign([TopicPartition(input_topic, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        print("ready", flush=True)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for msgs in batch.values():
                for m in msgs:
                    await _handle(conn, prod, results_topic, m.value)
    finally:
        await consumer.stop()
        await prod.stop()
        await conn.close()


async def _handle(conn: asyncpg.Connection, prod: object, results_topic: str, value: bytes) -> None:
    event = orjson.loads(value)
    data = event["data"]
    for i, contact in enumerate(data["contacts"]):
        doc = orjson.dumps(contact)
        await conn.execute(UPSERT, data["tenant"], contact["user_data"], doc.decode(), hashlib.md5(doc).hexdigest())
        outcome = {"event_id": event["id"], "record_index": i, "user_data": contact["user_data"], "contact": contact}
        await prod.send(results_topic, orjson.dumps(outcome), key=contact["user_data"].encode())  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    bootstrap, dsn, input_topic, results_topic = argv
    asyncio.run(consume(bootstrap, dsn, input_topic, results_topic))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
