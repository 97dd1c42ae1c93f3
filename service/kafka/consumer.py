"""The consumer loop: fetch a batch, commit its effects and offsets to Postgres, repeat.

Offsets live in Postgres (see ``store/offsets.py``); Kafka's own committed offsets are written
afterwards only so that lag tooling can see them. On every assignment each partition is sought to
the offset stored in Postgres. Any rebalance abandons the batch in flight: its partitions are
re-read from the stored offsets, so nothing is skipped and nothing is applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError, NoOffsetForPartitionError, OffsetOutOfRangeError

from service.catalog.cache import CatalogCache
from service.config import Settings
from service.errors import FencedError, TransientError
from service.kafka import positions
from service.kafka.relay import Relay
from service.pipeline.processor import Processor
from service.runtime import metrics
from service.store import offsets
from service.store.db import translated

log = structlog.get_logger(__name__)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop.revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._loop.assigned(assigned)


class ConsumerLoop:
    def __init__(
        self,
        settings: Settings,
        consumer: AIOKafkaConsumer,
        pool: asyncpg.Pool,
        processor: Processor,
        relay: Relay,
        catalog: CatalogCache,
    ) -> None:
        self._catalog = catalog
        self._s = settings
        self._consumer = consumer
        self._pool = pool
        self._processor = processor
        self._relay = relay
        self._lock = asyncio.Lock()
        self._expected: dict[TopicPartition, int | None] = {}
        self._generation = 0
        self._sought: dict[TopicPartition, float] = {}  # seek time (ms) of partitions not yet checked
        self._stopping = asyncio.Event()
        self._mirror_due: dict[TopicPartition, int] = {}  # positions not yet mirrored to Kafka
        self._mirror_task: asyncio.Task[None] | None = None
        self.ready = False
        self.committing = True  # False from a transient failure of a batch until one commits again
        self.last_progress = time.monotonic()

    def listener(self) -> ConsumerRebalanceListener:
        return _Listener(self)

    def stop(self) -> None:
        self._stopping.set()

    # -- rebalance callbacks -------------------------------------------------------------------
    async def revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._lock:  # wait for the transaction in flight, if any
            self._generation += 1
            for tp in revoked:
                self._expected.pop(tp, None)
                self._sought.pop(tp, None)
                with contextlib.suppress(KeyError):
                    metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))
        if revoked:
            log.info("partitions revoked", partitions=sorted(tp.partition for tp in revoked))

    async def assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:  # the series at 0 from now on, so that an alert sees it rise
            metrics.OFFSETS_SKIPPED.labels(tp.topic, str(tp.partition))
        async with self._lock:
            await self._seek_to_stored(list(assigned))
            # after the seek: a batch getmany returned before it (read from Kafka's committed
            # offset while the stored offsets were being read) must be abandoned by _handle
            self._generation += 1
            self.ready = True
        log.info("partitions assigned", partitions=sorted(tp.partition for tp in assigned))

    async def _seek_to_stored(self, tps: list[TopicPartition]) -> None:
        """Seek each partition to its offset in Postgres (retrying while Postgres is down)."""
        if not tps:
            return
        by_topic: dict[str, list[TopicPartition]] = {}
        for tp in tps:
            by_topic.setdefault(tp.topic, []).append(tp)
        delay = self._s.retry_initial_s
        while True:
            try:
                async with translated(), self._pool.acquire() as conn:
                    stored = {
                        TopicPartition(topic, p): o
                        for topic, group in by_topic.items()
                        for p, o in (
                            await offsets.stored(conn, self._s.group_id, topic, [tp.partition for tp in group])
                        ).items()
                    }
                break
            except TransientError as exc:
                if self._stopping.is_set():
                    raise
                metrics.DB_ERRORS.inc()
                log.warning("cannot read stored offsets, retrying", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._s.retry_max_s)
        # never stored: Kafka's committed offset, else the log's beginning
        committed = {tp: await self._consumer.committed(tp) for tp in tps if tp not in stored}
        begin = await self._consumer.beginning_offsets(tps)
        for tp in tps:  # no await from here: the caller bumps the generation right after
            self._expected[tp] = stored.get(tp)
            target = stored.get(tp, committed.get(tp))
            if target is None or positions.below_start(tp, target, begin[tp], "on assignment"):
                target = begin[tp]
            self._consumer.seek(tp, target)  # beyond the end: _restart_recreated
            self._sought[tp] = time.time() * 1000

    async def _out_of_range(self, exc: OffsetOutOfRangeError) -> None:
        """A fetch position the log does not hold (found while running): below the log start, go on
        from the start, counting what was skipped; beyond the end (a recreated topic), from the beginning."""
        async with self._lock:
            owned = self._consumer.assignment()
            fetched: dict[TopicPartition, int] = {
                # a fetch sent before the partition was sought (to its stored offset) is stale
                tp: o
                for tp, o in exc.args[0].items()
                if tp in owned and await self._consumer.position(tp) == o
            }
            if not fetched:
                return
            begin = await self._consumer.beginning_offsets(list(fetched))
            for tp, offset in fetched.items():
                if not positions.below_start(tp, offset, begin[tp], "while consuming"):
                    positions.beyond_end(tp, offset, None)
                self._consumer.seek(tp, begin[tp])

    async def _restart_recreated(self) -> None:
        """A position beyond the fetched high watermark (topic recreated): restart at the beginning.

        The fetch high watermark is used, not ListOffsets: tansu answers ListOffsets(LATEST) with the
        last record batch's base offset + 1, which would rewind (and replay) a healthy partition.
        """
        if not self._sought:
            return  # nothing sought since the last check (without the lock: a commit may hold it)
        async with self._lock:
            for tp in [tp for tp in self._sought if tp in self._consumer.assignment()]:
                polled = self._consumer.last_poll_timestamp(tp)
                high = self._consumer.highwater(tp)
                if polled is None or high is None or polled <= self._sought[tp]:
                    continue  # no fetch answered since the seek: the cached high watermark may be stale
                del self._sought[tp]
                if await self._consumer.position(tp) <= high:
                    continue
                positions.beyond_end(tp, self._expected.get(tp), high)
                await self._consumer.seek_to_beginning(tp)

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = await self._consumer.getmany(
                    timeout_ms=self._s.batch_max_wait_ms, max_records=self._s.batch_max_records
                )
            except OffsetOutOfRangeError as exc:  # the consumer's reset policy is "none": it says so
                await self._out_of_range(exc)
                continue
            except NoOffsetForPartitionError:
                continue  # assigned, not yet sought: the listener seeks it to its stored offset
            self.last_progress = time.monotonic()
            generation = self._generation  # one fetch: any rebalance abandons all its chunks
            for chunk in chunks(batch, self._s.batch_max_bytes):
                if not await self._handle(chunk, generation):
                    break  # abandoned: the partitions are re-read from the stored offsets
            await self._restart_recreated()
            self._update_lag()
        if self._mirror_task is not None:
            await self._mirror_task

    async def _handle(self, batch: dict[TopicPartition, list], generation: int) -> bool:  # type: ignore[type-arg]
        """Commit one chunk; False when it was abandoned (rebalance, fencing, shutdown)."""
        t0 = time.perf_counter()
        messages = [m for ms in batch.values() for m in ms]
        prepared, dead = self._processor.prepare(messages, await self._catalog.get())
        delay = self._s.retry_initial_s
        while True:
            async with self._lock:
                if generation != self._generation:
                    log.info("rebalance during batch; abandoned, partitions re-read", messages=len(messages))
                    return False
                moves = {
                    (tp.topic, tp.partition): (self._expected.get(tp), ms[-1].offset + 1) for tp, ms in batch.items()
                }
                try:
                    async with translated(), self._pool.acquire() as conn:
                        result = await self._processor.commit(conn, prepared, dead, moves)
                except FencedError as exc:
                    metrics.FENCED.inc()
                    log.warning("batch fenced; re-reading stored offsets", error=str(exc))
                    # every assigned partition, not only the chunk's: the rest of the fetch is
                    # abandoned too, and its partitions' positions have moved past it
                    await self._seek_to_stored(list(self._consumer.assignment()))
                    self._generation += 1
                    return False
                except TransientError as exc:
                    metrics.DB_ERRORS.inc()
                    self.committing = False
                    log.warning("batch failed on a transient error, retrying", error=str(exc), retry_in_s=delay)
                else:
                    for tp, ms in batch.items():
                        self._expected[tp] = ms[-1].offset + 1
                    self.committing = True
                    break
            if self._stopping.is_set():
                log.info("stopping with a batch not committed; it will be re-read", messages=len(messages))
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._s.retry_max_s)
        self._relay.wake()
        elapsed = time.perf_counter() - t0
        metrics.MESSAGES_CONSUMED.inc(len(messages))
        metrics.BATCH_SIZE.observe(len(messages))
        metrics.BATCH_SECONDS.observe(elapsed)
        log.info(
            "batch committed",
            messages=len(messages),
            records=result.records,
            dead_letters=result.dead_letters,
            replayed=result.replayed,
            statuses={f"{d}:{s}": n for (d, s), n in result.statuses.items()},
            duration_ms=round(elapsed * 1000, 1),
        )
        _log_failures(result.failures)
        self._mirror({tp: ms[-1].offset + 1 for tp, ms in batch.items()})
        return True

    def _mirror(self, positions: dict[TopicPartition, int]) -> None:
        """Mirror the stored offsets to Kafka for lag tooling, off the batch path: Postgres stays the
        truth, so the next batch does not wait for the broker's answer. Positions that arrive while a
        commit is in flight are coalesced into the next one."""
        self._mirror_due.update(positions)
        if self._mirror_task is None or self._mirror_task.done():
            self._mirror_task = asyncio.create_task(self._mirror_pending(), name="kafka-offset-mirror")

    async def _mirror_pending(self) -> None:
        while self._mirror_due:
            positions, self._mirror_due = self._mirror_due, {}
            await self._commit_kafka(positions)

    async def _commit_kafka(self, positions: dict[TopicPartition, int]) -> None:
        owned = self._consumer.assignment()
        mine = {tp: o for tp, o in positions.items() if tp in owned}
        if not mine:
            return
        try:
            await self._consumer.commit(mine)
        except (KafkaError, ConnectionError, TimeoutError) as exc:
            log.info("kafka offset commit skipped", error=type(exc).__name__)

    def _update_lag(self) -> None:
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            pos = self._expected.get(tp)
            if high is not None and pos is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - pos))


def chunks(batch: dict[TopicPartition, list], max_bytes: int) -> Iterator[dict[TopicPartition, list]]:  # type: ignore[type-arg]
    """Split a fetch into transactions of about ``max_bytes`` of values (at least one message each),
    keeping every partition's messages in order, so memory stays bounded however large the events."""
    chunk: dict[TopicPartition, list] = {}  # type: ignore[type-arg]
    size = 0
    for tp, messages in batch.items():
        for m in messages:
            if chunk and size + len(m.value or b"") > max_bytes:
                yield chunk
                chunk, size = {}, 0
            chunk.setdefault(tp, []).append(m)
            size += len(m.value or b"")
    if chunk:
        yield chunk


_FAILURE_LINES = 50  # per batch; the rest is summed up in one line


def _log_failures(failures: list[tuple[str, str, int, list[str]]]) -> None:
    """One line per failed record, by event id and error codes only (never the record's values)."""
    for dialect, event_id, index, codes in failures[:_FAILURE_LINES]:
        log.info("record failed", dialect=dialect, event_id=event_id, record_index=index, codes=codes[:10])
    if len(failures) > _FAILURE_LINES:
        log.info("more records failed", count=len(failures) - _FAILURE_LINES)
