"""The job runner beside the consumer: claims due import jobs, one at a time, and runs them.

A job is claimed with ``FOR UPDATE SKIP LOCKED`` (store/jobs.py), so with several replicas each due
job is taken by exactly one; the claim holds a lease that a heartbeat renews. A replica that dies
stops renewing, its lease runs out, and another replica (or itself after a restart) takes the job
over and resumes it from the checkpoint. On SIGTERM the job in flight stops at its next step
boundary and gives its lease back, so another replica can take it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable

import asyncpg
import structlog

from service.catalog.cache import CatalogCache
from service.config import Settings
from service.dialects.registry import Registry
from service.errors import TransientError
from service.imports.execution import JobExecution, Stopped
from service.store import jobs
from service.store.db import translated
from service.store.jobs import Job

log = structlog.get_logger(__name__)


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        registry: Registry,
        catalog: CatalogCache,
        on_commit: Callable[[], None],
    ) -> None:
        self._s = settings
        self._pool = pool
        self._registry = registry
        self._catalog = catalog
        self._on_commit = on_commit
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        delay = self._s.retry_initial_s
        while not self._stopping.is_set():
            try:
                job = await self._claim()
                if job is not None:
                    await self._run(job)
                    continue
                delay = self._s.retry_initial_s
            except TransientError as exc:
                log.warning("import job step failed on a transient error", error=str(exc), retry_in_s=delay)
                await self._sleep(delay)
                delay = min(delay * 2, self._s.retry_max_s)
                continue
            await self._sleep(self._s.import_poll_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _claim(self) -> Job | None:
        async with translated(), self._pool.acquire() as conn:
            return await jobs.claim(conn, self.owner, self._s.import_lease_s)

    async def _run(self, job: Job) -> None:
        log.info(
            "import job started", job_id=job.id, dialect=job.dialect, attempt=job.attempts, checkpoint=job.checkpoint
        )
        execution = JobExecution(
            self._s,
            self._pool,
            self._registry.get(job.dialect),
            await self._catalog.get(),
            job,
            self.owner,
            self._stopping,
            self._on_commit,
        )
        heartbeat = asyncio.create_task(self._heartbeat(job.id), name=f"lease-{job.id}")
        try:
            await execution.run()
        except Stopped as why:
            log.info("import job stopped", job_id=job.id, reason=str(why), checkpoint=execution.job.checkpoint)
            with contextlib.suppress(TransientError):
                async with translated(), self._pool.acquire() as conn:
                    await jobs.release(conn, job.id, self.owner)
        except TransientError:
            raise  # the lease runs out; this or another replica resumes the job from its checkpoint
        except Exception:  # a bug must not stop the service: the job fails, with what happened
            log.exception("import job crashed", job_id=job.id)
            with contextlib.suppress(Stopped):
                await execution.fail("internal.error", "the import stopped on an internal error")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, job_id: str) -> None:
        """Renew the lease while the job runs (a lost lease is noticed at the next step)."""
        while True:
            await asyncio.sleep(self._s.import_lease_s / 3)
            try:
                async with translated(), self._pool.acquire() as conn:
                    if not await jobs.renew(conn, job_id, self.owner, self._s.import_lease_s):
                        return
            except TransientError as exc:
                log.warning("import job lease not renewed", job_id=job_id, error=str(exc))
