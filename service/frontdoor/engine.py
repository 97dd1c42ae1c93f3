"""A front-door request as an input event: published (acks all), then its outcomes awaited.

The event is what a Kafka client publishes: a structured CloudEvent with the dialect as ``type``, the
authenticated user's ``tenant`` and an event id (from the ``Idempotency-Key`` when one is given). One
results reader per process is assigned every partition of the results topic from its end and wakes
the request waiting for an event id; the answer itself is read from the outbox in Postgres, where the
event's outcomes were written with its effects, so a retried request (the pipeline replays the stored
outcomes of an event id it has seen) gets the first answer and applies nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from service.config import Settings
from service.kafka import clients

log = structlog.get_logger(__name__)

EVENT_SOURCE = "contact-import-frontdoor"
PUBLISH_TIMEOUT_S = 10.0  # an unacknowledged event after this: 503, the client retries (same key: same event)
_KEY_NS = uuid.UUID("3f0c6a52-8d1e-4b7a-9e25-4c61d0a8f7b3")


class BrokerUnavailable(Exception):
    """The event could not be published: nothing was accepted, the client should retry later."""


@dataclass(frozen=True, slots=True)
class Answer:
    event_id: str
    outcomes: list[dict[str, Any]] | None  # None: not processed yet (202)


def event_id(tenant: str, idempotency_key: str | None) -> str:
    """A fresh id, or one derived from (tenant, key): a retried request is the same event."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return uuid.uuid5(_KEY_NS, f"{tenant}\x1f{idempotency_key}").hex


class Engine:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self._s = settings
        self._pool = pool
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiters: dict[str, list[_Waiter]] = {}

    async def start(self) -> None:
        self._producer = clients.producer(self._s, acks="all", request_timeout_ms=5000)
        await self._producer.start()
        self._reader = reader = clients.consumer(self._s, group_id=None, enable_auto_commit=False)
        await reader.start()
        parts = await _partitions(reader, self._s.results_topic)
        reader.assign([TopicPartition(self._s.results_topic, p) for p in parts])
        await reader.seek_to_end()
        self._task = asyncio.create_task(self._read(), name="frontdoor-results")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for client in (self._reader, self._producer):
            if client is not None:
                await client.stop()

    async def submit(self, dialect: str, tenant: str | None, data: Any, eid: str) -> Answer:
        """Publish the event (unless its outcomes exist already) and wait for them a while."""
        stored = await self.outcomes(eid)
        if stored is not None:
            return Answer(eid, stored)
        waiter = _Waiter()
        self._waiters.setdefault(eid, []).append(waiter)
        try:
            await self._publish(dialect, tenant, data, eid)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.arrived.wait(), self._s.frontdoor_wait_s)
            # the stored outcomes are the whole answer; an event that claimed no id (a refused login,
            # denied access) is not stored, and its outcomes are those the results topic carried
            return Answer(eid, await self.outcomes(eid) or _ordered(waiter.seen) or None)
        finally:
            waiting = self._waiters.get(eid, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self._waiters.pop(eid, None)

    async def outcomes(self, eid: str) -> list[dict[str, Any]] | None:
        """The event's outcomes (the CloudEvents' data) in record order, or None while there are none."""
        rows = await self._pool.fetch(
            "SELECT payload FROM outbox WHERE topic = $1 AND event_source = $2 AND event_id = $3 ORDER BY seq",
            self._s.results_topic,
            EVENT_SOURCE,
            eid,
        )
        if not rows:
            return None
        return _ordered([orjson.loads(r["payload"])["data"] for r in rows])

    async def _publish(self, dialect: str, tenant: str | None, data: Any, eid: str) -> None:
        """Structured mode for JSON data; binary mode (ce_* headers) for text data (importWS)."""
        assert self._producer is not None
        attrs = {"specversion": "1.0", "id": eid, "source": EVENT_SOURCE, "type": dialect}
        if tenant:
            attrs["tenant"] = tenant
        if isinstance(data, bytes):
            value = data
            headers = [(f"ce_{k}", v.encode()) for k, v in attrs.items()]
        else:
            value = orjson.dumps({**attrs, "datacontenttype": "application/json", "data": data})
            headers = [("content-type", b"application/cloudevents+json")]
        key = (tenant or "").encode()
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(self._s.input_topic, value, key=key, headers=headers),
                PUBLISH_TIMEOUT_S,
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning("front-door event not published", error=type(exc).__name__)
            raise BrokerUnavailable from exc

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            try:
                batch = await self._reader.getmany(timeout_ms=1000)
            except KafkaError as exc:
                log.warning("results reader failing", error=type(exc).__name__)
                await asyncio.sleep(1)
                continue
            for messages in batch.values():
                for m in messages:
                    self._wake(m.value)

    def _wake(self, value: bytes | None) -> None:
        if not self._waiters:  # every outcome of every replica passes here: decode only when one is awaited
            return
        try:
            data = orjson.loads(value or b"{}").get("data")
        except (orjson.JSONDecodeError, AttributeError):
            return
        eid = data.get("event_id") if isinstance(data, dict) else None
        for waiter in self._waiters.get(eid, []) if isinstance(eid, str) else []:
            waiter.seen.append(data)
            waiter.arrived.set()


@dataclass(slots=True)
class _Waiter:
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[dict[str, Any]] = field(default_factory=list)  # the event's outcomes on the results topic


def _ordered(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """In record order, each record once (a replay may repeat them)."""
    by_index = {int(o.get("record_index", 0)): o for o in outcomes}
    return [by_index[i] for i in sorted(by_index)]


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> list[int]:
    for _ in range(100):
        parts = reader.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        await reader.topics()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions")
