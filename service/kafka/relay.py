"""Relay the outbox to Kafka: at-least-once, in outbox order, one relaying replica at a time.

A message the broker refuses for good (too large, invalid, not authorised) is parked with its error,
out of the publishing order (``contact-import parked``); everything behind it is still published.
Other broker errors fail the round, which is retried, in order, after a back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from service.config import Settings
from service.errors import TransientError
from service.kafka import fitting
from service.kafka.publish import RoundResult as PublishResult
from service.kafka.publish import describe, publish
from service.pipeline import tracing
from service.runtime import failpoints, metrics
from service.store import events, logins, outbox, parked
from service.store.db import translated

log = structlog.get_logger(__name__)
_RELAY_LOCK = 0x43495301
# A row's seq is taken when it is inserted and it becomes visible when its transaction commits, so
# a transaction still open (another replica's batch) can commit rows below seqs already relayed.
# Each round reads past the highest seq relayed; the seqs it skipped are watched for this long,
# and every _FULL_RESCAN_S a round reads from the start.
_GAP_WATCH_S = 120.0
_FULL_RESCAN_S = 60.0
_COUNT_PARKED_S = 15.0
_PROBE_MAX_S = 1.0  # a failing relay tries again at least this often, so readiness follows within it


class Relay:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> None:
        self._s = settings
        self._pool = pool
        self._producer = producer
        self._wake = asyncio.Event()
        self._stopping = False
        self.healthy = True
        self._last_expire = 0.0
        self._mark = 0  # the highest seq relayed
        self._gaps: list[tuple[int, int, float]] = []  # seqs skipped below the mark: (first, last, seen at)
        self._last_full = time.monotonic()
        self._last_count = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        delay = self._s.retry_initial_s
        while not self._stopping:
            self._wake.clear()  # before the round: a wake-up during it starts the next one at once
            try:
                sent = await self.flush_once()
                self.healthy = True
                delay = self._s.retry_initial_s
                await self._expire()
            except (TransientError, KafkaError) as exc:
                self.healthy = False
                metrics.PUBLISH_ERRORS.inc()
                log.warning("relay round failed, retrying", error=type(exc).__name__, retry_in_s=delay)
                # a commit wakes the relay at once: Postgres is back, and readiness with it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                delay = min(delay * 2, self._s.retry_max_s, _PROBE_MAX_S)
                continue
            if sent < self._s.relay_batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._s.relay_idle_ms / 1000)

    async def flush_once(self) -> int:
        """Publish one round of pending messages; returns how many were published."""
        now = time.monotonic()
        full = now - self._last_full >= _FULL_RESCAN_S
        result = PublishResult()
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK):
                self._mark, self._gaps = 0, []  # another replica relays; start afresh if this one takes over
                return 0
            fresh = await outbox.take(conn, self._s.relay_batch, 0 if full else self._mark)
            late = await outbox.take_ranges(conn, [(a, b) for a, b, _ in self._gaps]) if self._gaps and not full else []
            pending = sorted(late + fresh, key=lambda p: p.seq) if late else fresh
            if not pending:
                metrics.OUTBOX_PENDING.set(0)
            else:
                metrics.OUTBOX_PENDING.set(len(pending))
                limit = self._s.kafka_max_request_bytes
                t0 = time.time_ns() if tracing.ENABLED else 0
                result = await publish(self._producer, [fitting.fit(p, limit) for p in pending])
                if tracing.ENABLED:
                    tracing.published(result.published, t0)
                failpoints.hit(failpoints.AFTER_PUBLISH)
                await outbox.mark_published(conn, [p.seq for p in result.published])
                if result.refused:
                    await parked.park(conn, [(p.seq, describe(exc)) for p, exc in result.refused])
                    self._last_count = 0.0  # count the parked rows again after this round
        self._advance(fresh, now, full)
        self._report(result)
        metrics.OUTBOX_PENDING.set(0)
        return len(pending)

    @staticmethod
    def _report(result: PublishResult) -> None:
        for p in result.published:
            metrics.OUTBOX_PUBLISHED.labels(p.topic).inc()
        for p, exc in result.refused:
            metrics.OUTBOX_PARKED.labels(p.topic, type(exc).__name__).inc()
            log.error(
                "broker refused a message for good, parked",
                seq=p.seq,
                topic=p.topic,
                bytes=len(p.payload),
                error=type(exc).__name__,
            )

    def _advance(self, fresh: list[outbox.Pending], now: float, full: bool) -> None:
        """Move the mark past the rows relayed, remembering the seqs skipped on the way."""
        if full:
            self._last_full, self._gaps = now, []
        gaps = [g for g in self._gaps if now - g[2] < _GAP_WATCH_S]
        last = self._mark
        for p in fresh:
            if p.seq > last + 1 and p.seq > self._mark:
                gaps.append((last + 1, p.seq - 1, now))
            last = max(last, p.seq)
        self._mark, self._gaps = last, gaps

    async def drain(self, timeout_s: float) -> None:
        """Publish everything pending (used on shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if await self.flush_once() == 0:
                    return
            except (TransientError, KafkaError) as exc:
                log.warning("outbox drain failed", error=type(exc).__name__)
                return

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _expire(self) -> None:
        now = time.monotonic()
        if now - self._last_count >= _COUNT_PARKED_S:
            self._last_count = now
            async with translated(), self._pool.acquire() as conn:
                metrics.OUTBOX_PARKED_NOW.set(await parked.count(conn))
        if now - self._last_expire < 60:
            return
        self._last_expire = now
        async with translated(), self._pool.acquire() as conn:
            e = await events.expire(conn, self._s.event_id_retention_hours)
            o = await outbox.expire(conn, self._s.event_id_retention_hours)
            f = await logins.expire(conn, max(self._s.login_failure_window_s, self._s.login_lock_s))
        if e or o or f:
            log.info("retention expired rows", event_ids=e, outbox_rows=o, login_counts=f)
