"""Wiring: the only module that knows every concrete class. Builds, runs and stops the service."""

from __future__ import annotations

import asyncio
import gc
import signal
import time

import structlog

from service.catalog.cache import CatalogCache
from service.config import Settings
from service.dialects import default_registry
from service.errors import TransientError
from service.frontdoor.server import FrontDoor
from service.imports.runner import JobRunner
from service.kafka import clients
from service.kafka.consumer import ConsumerLoop
from service.kafka.relay import Relay
from service.pipeline import tracing
from service.pipeline.processor import Processor
from service.runtime.http import HealthServer
from service.store import db
from service.store.migrate import migrate

log = structlog.get_logger(__name__)


async def prepare_database(settings: Settings, attempts: int = 30) -> None:
    """Apply migrations, waiting for Postgres to come up."""
    delay = settings.retry_initial_s
    for attempt in range(1, attempts + 1):
        try:
            async with db.translated():
                conn = await db.connect(settings.database_url.get_secret_value())
                try:
                    await migrate(conn)
                finally:
                    await conn.close()
            return
        except TransientError as exc:
            if attempt == attempts:
                raise
            log.warning("database not reachable yet", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.retry_max_s)


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = asyncio.Event()
        self._loop: ConsumerLoop | None = None
        self._relay: Relay | None = None
        self._runner: JobRunner | None = None
        self.http: HealthServer | None = None
        self.frontdoor: FrontDoor | None = None

    def stop(self) -> None:
        self._stop.set()

    def _ready(self) -> tuple[bool, str]:
        if self._loop is None or self._relay is None or not self._loop.ready:
            return False, "starting"
        if not self._loop.committing:
            return False, "batches failing (database unavailable?)"
        if not self._relay.healthy:
            return False, "outbox relay failing"
        if time.monotonic() - self._loop.last_progress > 30:
            return False, "consumer stalled (database unavailable?)"
        return True, "ready"

    async def run(self) -> None:
        s = self.settings
        if tracing.configure():
            log.info("exporting spans over OTLP")
        await prepare_database(s)
        if s.create_topics:
            await clients.ensure_topics(s)
        registry = default_registry(s.schema_dir)
        pool = await db.create_pool(s.database_url.get_secret_value(), s.database_pool_size, s.pg_server_settings())
        producer = clients.producer(s)
        await producer.start()
        # no reset policy: a position the log does not hold raises, and the loop says what was skipped
        consumer = clients.consumer(s, auto_offset_reset="none")
        self._relay = relay = Relay(s, pool, producer)
        catalog = CatalogCache(pool, s.catalog_refresh_s, s.import_timezone)
        await catalog.get()
        self._loop = loop = ConsumerLoop(s, consumer, pool, Processor(s, registry), relay, catalog)
        consumer.subscribe([s.input_topic], listener=loop.listener())
        log.info("joining the consumer group", group=s.group_id, static=bool(s.kafka_group_instance_id))
        await consumer.start()
        self._runner = runner = JobRunner(s, pool, registry, catalog, relay.wake)
        self.http = HealthServer(s.http_host, s.http_port, self._ready)
        await self.http.start()
        if s.frontdoor_enabled:
            self.frontdoor = FrontDoor(s, pool, catalog)
            await self.frontdoor.start()
        log.info("service started", input_topic=s.input_topic, group=s.group_id, dialects=registry.names())
        relay_task = asyncio.create_task(relay.run(), name="relay")
        loop_task = asyncio.create_task(loop.run(), name="consumer")
        jobs_task = asyncio.create_task(runner.run(), name="import-jobs")
        stop_task = asyncio.create_task(self._stop.wait(), name="stop")
        try:
            done, _ = await asyncio.wait(
                {relay_task, loop_task, jobs_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done - {stop_task}:
                task.result()  # a crashed task is a crashed service
        finally:
            log.info("service stopping")
            if self.frontdoor is not None:
                await self.frontdoor.stop()  # no new requests: what is in flight is published already
            loop.stop()
            runner.stop()  # the job in flight stops at its next step and gives its lease back
            await asyncio.wait({loop_task, jobs_task}, timeout=30)
            if not jobs_task.done():  # its lease runs out and another replica resumes the job
                jobs_task.cancel()
                await asyncio.wait({jobs_task}, timeout=5)
            relay.stop()
            await asyncio.wait({relay_task}, timeout=5)
            await relay.drain(timeout_s=10)
            stop_task.cancel()
            await consumer.stop()  # leaves the group: partitions move to the other replicas at once
            await producer.stop()
            await pool.close()
            await self.http.stop()
            tracing.shutdown()
            log.info("service stopped")


def tune_gc() -> None:
    """A transaction's records, snapshots and outcomes (tens of thousands of small objects) live
    until it commits; with the default threshold of 700 allocations the cyclic collector ran every
    few records and rescanned them, about a tenth of the service's CPU. Objects built at start-up
    are frozen out of the scans, and young objects are collected every 50,000 allocations."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


async def serve(settings: Settings) -> None:
    """Run until SIGINT, SIGTERM or SIGHUP (its terminal closed; unless started under nohup)."""
    tune_gc()
    app = App(settings)
    running = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig != signal.SIGHUP or signal.getsignal(sig) is not signal.SIG_IGN:
            running.add_signal_handler(sig, app.stop)
    await app.run()
