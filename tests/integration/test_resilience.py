"""Resilience under traffic: replicas joining and leaving, Postgres going away, SIGTERM.

Every test publishes a stream of single-contact events in the background: event ``i`` updates key
``u{i % keys}`` with the name ``n{i}`` (Kafka key = user_data, so a key's events stay in order on one
partition). The ``j``-th event of a key must therefore yield version ``j`` — an event applied twice, or
skipped, shows up as a wrong version, a wrong final name or a missing outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from service.config import Settings
from service.store import db as store_db
from tests.conftest import Infra
from tests.support import ServiceProcess, contact, contacts_event, outcomes, read_topic

ALL_SIX = r'"partitions":\[0,1,2,3,4,5\],"event":"partitions assigned"'


class Publisher:
    """Publishes events in chunks until stopped; ``count`` events are acknowledged once stopped."""

    def __init__(self, settings: Settings, keys: int = 24, chunk: int = 5, pause_s: float = 0.05) -> None:
        self.settings, self.keys, self.chunk, self.pause_s = settings, keys, chunk, pause_s
        self.count = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Publisher:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, enable_idempotence=False, acks="all"
        )
        await producer.start()
        try:
            while not self._stop.is_set():
                futures = []
                for _ in range(self.chunk):
                    i, user = self.count, f"u{self.count % self.keys}"
                    event = contacts_event("acme", [contact(user, name=f"n{i}")], event_id=f"e{i}")
                    futures.append(
                        await producer.send(self.settings.input_topic, orjson.dumps(event), key=user.encode())
                    )
                    self.count += 1
                await asyncio.gather(*futures)
                await asyncio.sleep(self.pause_s)
        finally:
            await producer.stop()

    async def wait_for(self, n: int, timeout_s: float = 60) -> None:
        """Until ``n`` events were published (re-raising a failure of the publishing task)."""
        assert self._task is not None
        target = self.count + n
        deadline = time.monotonic() + timeout_s
        while self.count < target:
            if self._task.done():
                self._task.result()
                raise AssertionError("publisher stopped early")
            assert time.monotonic() < deadline, f"{n} more events not published within {timeout_s}s"
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self._task is not None
        self._stop.set()
        await self._task
        return self.count


async def wait_log(svc: ServiceProcess, pattern: str, count: int = 1, timeout_s: float = 60) -> None:
    """``ServiceProcess.wait_log`` off the event loop, so that the publisher keeps publishing."""
    await asyncio.to_thread(svc.wait_log, pattern, timeout_s, count)


def log_count(svc: ServiceProcess, pattern: str) -> int:
    return len(re.findall(pattern, svc.log()))


async def log_ends(settings: Settings, n: int) -> dict[int, int]:
    """Log-end offset of every non-empty input partition, read from the records themselves: tansu's
    ListOffsets(latest) can answer less than the fetch high watermark."""
    msgs = await read_topic(settings.kafka_bootstrap, settings.input_topic, expect=n)
    assert len(msgs) == n
    ends: dict[int, int] = {}
    for m in msgs:
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
    return ends


async def assert_exactly_once(settings: Settings, pub: Publisher) -> None:
    """Every published event applied exactly once, in key order, with one outcome each; offsets at the log end."""
    n, keys = await pub.stop(), pub.keys
    conn = await store_db.connect(settings.database_url.get_secret_value())
    try:
        deadline = time.monotonic() + 90
        while True:  # wait for the service to catch up and the relay to publish everything
            done = await conn.fetchval("SELECT count(*) FROM processed_events")
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            assert done <= n
            if done == n and pending == 0:
                break
            assert time.monotonic() < deadline, f"{done}/{n} events processed, {pending} outbox rows pending"
            await asyncio.sleep(0.2)
        rows = await conn.fetch("SELECT user_data, version, data->>'name' AS name FROM customers WHERE tenant = 'acme'")
        assert {r["user_data"]: r["version"] for r in rows} == dict(Counter(f"u{i % keys}" for i in range(n)))
        assert {r["user_data"]: r["name"] for r in rows} == {f"u{i % keys}": f"n{i}" for i in range(n)}
        replays = await conn.fetch('SELECT payload FROM outbox WHERE headers @> \'[["replay","true"]]\'::jsonb')
        reread: dict[int, list[int]] = {}  # partition -> offsets read a second time
        for r in replays:
            src = orjson.loads(r["payload"])["data"]["source"]
            reread.setdefault(src["partition"], []).append(src["offset"])
        spans = {p: (min(o), max(o)) for p, o in reread.items()}
        assert not replays, (
            f"{len(replays)} outcomes re-sent: records read twice, (first, last) offset by partition: {spans}"
        )
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", settings.results_topic) == n
        stored = await conn.fetch(
            "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
            settings.group_id,
            settings.input_topic,
        )
    finally:
        await conn.close()
    assert {r["partition"]: r["next_offset"] for r in stored} == await log_ends(settings, n)
    # the relay is at-least-once: a re-sent outcome is allowed, but it must be the very same outcome
    seen: dict[str, set[tuple[Any, ...]]] = {}
    for o in await outcomes(settings, expect=n):
        seen.setdefault(o["event_id"], set()).add((o["outcome_id"], o["record_index"], o["status"], o["version"]))
    assert {e: len(s) for e, s in seen.items() if len(s) != 1} == {}
    got = {e: next(iter(s))[1:] for e, s in seen.items()}
    assert got == {f"e{i}": (0, "ADDED" if i < keys else "UPDATED", i // keys + 1) for i in range(n)}


async def http_status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        return int((await reader.readline()).split()[1])
    finally:
        writer.close()
        await writer.wait_closed()


async def wait_http(port: int, path: str, status: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while (got := await http_status(port, path)) != status:
        assert time.monotonic() < deadline, f"{path} still answers {got}, not {status}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def postgres_down(infra: Infra) -> AsyncIterator[None]:
    """Stop the session's Postgres; always start it again, since every test shares it."""
    database = infra.database
    await asyncio.to_thread(database.pg_ctl, "-w", "stop", "-m", "fast")
    try:
        yield
    finally:
        # pgserver's own start (-h "" -k <socket dir> -l <pgdata>/log start), which also refreshes the
        # postmaster info its atexit clean-up uses to stop the server at the end of the session
        await asyncio.to_thread(database.start_again)


async def test_second_replica_joins_and_leaves(settings: Settings, spawn: Callable[..., ServiceProcess]) -> None:
    settings = settings.model_copy(update={"topic_partitions": 6, "batch_max_records": 20})
    a = spawn(settings, "a")
    await wait_log(a, ALL_SIX)
    pub = Publisher(settings).start()
    await pub.wait_for(100)

    b = spawn(settings, "b")
    await wait_log(b, "partitions assigned")
    await wait_log(b, "batch committed")  # B did take part in the work
    assert log_count(a, "partitions revoked") >= 1
    await pub.wait_for(100)

    alone = log_count(a, ALL_SIX) + 1
    assert await asyncio.to_thread(b.terminate) == 0
    assert "service stopped" in b.log()
    await wait_log(a, ALL_SIX, count=alone)  # A took every partition back
    await pub.wait_for(100)

    await assert_exactly_once(settings, pub)
    assert a.proc is not None and a.proc.poll() is None


async def test_a_fenced_transaction_abandons_the_rest_of_its_fetch_and_nothing_is_skipped(
    settings: Settings, spawn: Callable[..., ServiceProcess]
) -> None:
    """A fetch split into several transactions, one of which is fenced: the fetch's other partitions
    have moved past their records too, so they must be re-read from the stored offsets. Three of the
    six partitions are fenced, so a fetch's partitions (in an order the test does not control) have
    an unfenced one after a fenced one in 19 orders out of 20."""
    settings = settings.model_copy(update={"topic_partitions": 6, "batch_max_bytes": 1})  # a transaction per message
    svc = spawn(settings)
    await wait_log(svc, ALL_SIX)
    conn = await store_db.connect(settings.database_url.get_secret_value())
    try:  # another owner moved partitions 0-2 after this consumer read the (absent) stored offsets
        await conn.execute(
            "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
            " SELECT $1, $2, p, 0 FROM generate_series(0, 2) AS p",
            settings.group_id,
            settings.input_topic,
        )
    finally:
        await conn.close()
    pub = Publisher(settings, chunk=60, pause_s=1.0).start()  # 60 events at once: one fetch, many partitions
    await pub.wait_for(60)
    await wait_log(svc, "batch fenced")
    await assert_exactly_once(settings, pub)


async def test_postgres_down_mid_stream(settings: Settings, spawn: Callable[..., ServiceProcess], infra: Infra) -> None:
    svc = spawn(settings)
    await wait_log(svc, "partitions assigned")
    port = await asyncio.to_thread(svc.http_port)
    assert await http_status(port, "/readyz") == 200
    pub = Publisher(settings).start()
    await pub.wait_for(100)
    await wait_log(svc, "batch committed")

    async with postgres_down(infra):
        await pub.wait_for(100)  # traffic keeps coming while the database is away
        await wait_log(svc, r"transient|retrying")
        await wait_http(port, "/readyz", 503)  # the relay reports its failures at once
        assert await http_status(port, "/healthz") == 200
        await pub.wait_for(100)
        assert svc.proc is not None and svc.proc.poll() is None, svc.log()[-3000:]
        committed = log_count(svc, "batch committed")

    await wait_log(svc, "batch committed", count=committed + 1)  # it resumes on its own
    await pub.wait_for(100)
    await assert_exactly_once(settings, pub)
    assert await http_status(port, "/readyz") == 200
    assert svc.proc.poll() is None


async def test_sigterm_is_graceful(settings: Settings, spawn: Callable[..., ServiceProcess]) -> None:
    first = spawn(settings, "first")
    await wait_log(first, "partitions assigned")
    pub = Publisher(settings).start()
    await pub.wait_for(150)
    await wait_log(first, "batch committed")

    assert await asyncio.to_thread(first.terminate) == 0
    assert "service stopped" in first.log()
    conn = await store_db.connect(settings.database_url.get_secret_value())
    try:  # the outbox was drained before exit: every committed outcome is on Kafka
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        assert await conn.fetchval("SELECT count(*) FROM processed_events") > 0
    finally:
        await conn.close()
    await pub.wait_for(100)  # published while no replica runs

    second = spawn(settings, "second")
    await wait_log(second, "partitions assigned")
    await pub.wait_for(100)
    await assert_exactly_once(settings, pub)
