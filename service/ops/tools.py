"""Round-trip tools for the CLI: publish an events file, read outcomes back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from service.config import Settings
from service.kafka import clients


def load_events(text: str) -> list[Any]:
    """A JSON array, one JSON object, or JSON lines (non-JSON lines are kept as text)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        doc = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        items: list[Any] = []
        for line in stripped.splitlines():
            if line.strip():
                try:
                    items.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    items.append(line.strip())
        return items
    return doc if isinstance(doc, list) else [doc]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _key(item: Any) -> bytes | None:
    if isinstance(item, dict):
        subject = item.get("subject") or item.get("id")
        if isinstance(subject, str):
            return subject.encode()
    return None


async def produce_file(settings: Settings, path: Path, dialect: str | None, topic: str | None) -> int:
    items = load_events(sys.stdin.read() if str(path) == "-" else _read(path))
    producer = clients.producer(settings, enable_idempotence=False)  # a one-shot tool: plain acks=all
    await producer.start()
    try:
        headers = [("dialect", dialect.encode())] if dialect else []
        for item in items:
            value = item.encode() if isinstance(item, str) else orjson.dumps(item)
            await producer.send(topic or settings.input_topic, value, key=_key(item), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    return len(items)


async def read_results(settings: Settings, topic: str | None, idle_s: float, limit: int, full: bool) -> int:
    """Print outcomes from the beginning of the topic; stop when idle or after ``limit``."""
    name = topic or settings.results_topic
    consumer = clients.consumer(settings, group_id=None, isolation_level="read_uncommitted")
    await consumer.start()
    count = 0
    try:
        parts = consumer.partitions_for_topic(name) or set()
        consumer.assign([TopicPartition(name, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                break
            for msgs in batch.values():
                for m in msgs:
                    event = orjson.loads(m.value)
                    out = event if full or not isinstance(event, dict) else event.get("data", event)
                    sys.stdout.write(orjson.dumps(out).decode() + "\n")
                    count += 1
                    if limit and count >= limit:
                        return count
            sys.stdout.flush()
    finally:
        sys.stdout.flush()
        await consumer.stop()
    return count
