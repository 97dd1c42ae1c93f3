"""Producing the input (as fast as possible, or paced) and reading the outcomes back, timed."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


def producer(bootstrap: str, *, linger_ms: int = 5) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


async def create_topics(bootstrap: str, topics: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


@dataclass(slots=True)
class Produced:
    first_at: float = 0.0  # wall clock of the first send
    done_at: float = 0.0  # wall clock when every message was acknowledged
    messages: int = 0


async def produce_all(prod: AIOKafkaProducer, topic: str, messages: list[tuple[bytes, bytes]]) -> Produced:
    """Send everything as fast as the client goes; the caller's clock starts at ``first_at``."""
    out = Produced(first_at=time.time())
    pending = []
    for key, value in messages:
        pending.append(await prod.send(topic, value, key=key))
        if len(pending) >= 5000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    out.done_at, out.messages = time.time(), len(messages)
    return out


async def produce_paced(
    prod: AIOKafkaProducer, topic: str, messages: list[tuple[bytes, bytes]], per_second: float
) -> Produced:
    """Open-loop offered load: message i is sent at ``first_at + i / per_second``, whatever the service does."""
    out = Produced(first_at=time.time())
    start = time.monotonic()
    pending = []
    i = 0
    while i < len(messages):
        due = int((time.monotonic() - start) * per_second) + 1
        while i < min(due, len(messages)):
            key, value = messages[i]
            pending.append(await prod.send(topic, value, key=key))
            i += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*pending)
    out.done_at, out.messages = time.time(), len(messages)
    return out


@dataclass(slots=True)
class Outcomes:
    count: int = 0
    last_at: float = 0.0  # wall clock when the last expected outcome was read
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)  # read time - input message time
    service_ms: list[float] = field(default_factory=list)  # processed_at - input message time
    timed_out: bool = False


class OutcomeReader:
    """Reads a topic from its beginning until ``expect`` messages arrived (or the deadline)."""

    def __init__(self, bootstrap: str, topic: str, *, latency: bool = False) -> None:
        self._topic = topic
        self._latency = latency
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )

    async def start(self, timeout_s: float = 30) -> None:
        await self._consumer.start()
        deadline = time.monotonic() + timeout_s
        parts: set[int] = set()
        while not parts:
            await self._consumer.topics()  # refreshes metadata
            parts = self._consumer.partitions_for_topic(self._topic) or set()
            if not parts:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {self._topic} does not exist after {timeout_s}s")
                await asyncio.sleep(0.1)
        self._consumer.assign([TopicPartition(self._topic, p) for p in sorted(parts)])
        await self._consumer.seek_to_beginning()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read(self, expect: int, timeout_s: float) -> Outcomes:
        out = Outcomes()
        deadline = time.monotonic() + timeout_s
        while out.count < expect:
            if time.monotonic() > deadline:
                out.timed_out = True
                break
            batch = await self._consumer.getmany(timeout_ms=100, max_records=50_000)
            now = time.time()
            for msgs in batch.values():
                out.count += len(msgs)
                for m in msgs:
                    status = _header(m.headers, "outcome_status")
                    out.statuses[status] = out.statuses.get(status, 0) + 1
                    if self._latency:
                        self._measure(m.value, now, out)
            if batch:
                out.last_at = now
        return out

    @staticmethod
    def _measure(value: bytes, now: float, out: Outcomes) -> None:
        data = orjson.loads(value)["data"]
        received = datetime.fromisoformat(data["received_at"]).timestamp()
        processed = datetime.fromisoformat(data["processed_at"]).timestamp()
        out.latencies_ms.append((now - received) * 1000)
        out.service_ms.append((processed - received) * 1000)


async def topic_size(bootstrap: str, topic: str) -> int:
    """How many messages a topic holds (0 when it does not exist)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            return 0
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        return int(sum(ends[tp] - begins[tp] for tp in tps))
    finally:
        await consumer.stop()


def _header(headers: object, name: str) -> str:
    for k, v in headers or ():  # type: ignore[attr-defined]
        if k == name:
            return bytes(v).decode()
    return "-"
