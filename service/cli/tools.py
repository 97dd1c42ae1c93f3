"""Round-trip tools for the CLI: publish an events file, read outcomes back."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition

from service.cli.console import CliError
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


async def _start(client: Any) -> None:
    """Start a producer or consumer; one that cannot start (no broker) is closed before the error goes on."""
    try:
        await client.start()
    except Exception:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await client.stop()
        raise


async def produce_file(settings: Settings, path: Path, dialect: str | None, topic: str | None) -> int:
    items = load_events(sys.stdin.read() if str(path) == "-" else _read(path))
    producer = clients.producer(settings, enable_idempotence=False)  # a one-shot tool: plain acks=all
    await _start(producer)
    try:
        headers = [("dialect", dialect.encode())] if dialect else []
        for item in items:
            value = item.encode() if isinstance(item, str) else orjson.dumps(item)
            await producer.send(topic or settings.input_topic, value, key=_key(item), headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
    return len(items)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def dead_letter_line(msg: Any) -> dict[str, Any]:
    """A dead letter as one JSON object: where it is, its headers and its value (JSON if it parses, else
    the text: a dead letter is often not JSON at all)."""
    try:
        value: Any = orjson.loads(msg.value) if msg.value is not None else None
    except orjson.JSONDecodeError:
        value = _text(msg.value)
    return {
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "key": _text(msg.key),
        "headers": {k: _text(v) for k, v in msg.headers or ()},
        "value": value,
    }


def outcome_line(msg: Any, full: bool, dead_letters: str) -> Any:
    """What ``results`` prints for a message: a CloudEvent's data (or the whole event with ``full``);
    a dead letter, or anything that is not a JSON object, with its headers and value."""
    if msg.topic == dead_letters or any(k.startswith("dlq_") for k, _ in msg.headers or ()):
        return dead_letter_line(msg)
    try:
        event = orjson.loads(msg.value)
    except (orjson.JSONDecodeError, TypeError):
        return dead_letter_line(msg)
    if not isinstance(event, dict):
        return dead_letter_line(msg)
    return event if full else event.get("data", event)


async def read_results(settings: Settings, topic: str | None, idle_s: float, limit: int, full: bool) -> int:
    """Print the messages of a topic (default: the results topic) from the beginning as JSON lines;
    stop when idle or after ``limit``."""
    name = topic or settings.results_topic
    consumer = clients.consumer(settings, group_id=None, isolation_level="read_uncommitted")
    await _start(consumer)
    await consumer.topics()  # the cluster's metadata: a topic created a moment ago too
    parts = consumer.partitions_for_topic(name)
    if not parts:
        with contextlib.suppress(asyncio.CancelledError):  # aiokafka's stop before any assignment
            await consumer.stop()
        raise CliError(f"no topic {name!r} on the broker")
    count = 0
    try:
        consumer.assign([TopicPartition(name, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                break
            for msgs in batch.values():
                for m in msgs:
                    line = outcome_line(m, full, settings.dead_letter_topic)
                    sys.stdout.write(orjson.dumps(line).decode() + "\n")
                    count += 1
                    if limit and count >= limit:
                        return count
            sys.stdout.flush()
    finally:
        sys.stdout.flush()
        await consumer.stop()
    return count
