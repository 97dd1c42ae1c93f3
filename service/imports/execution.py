"""One run of one import job: fetch the file, read its rows, apply them in checkpointed transactions.

Each step of ``CIS_IMPORT_ROWS_PER_TX`` rows is one transaction holding the contacts' upserts, the
rows' outcomes (outbox), the job's checkpoint and counters, and any job event; the job's row is
locked first, so a job cancelled or taken over by another replica stops here and writes nothing.
On a resumed run the file is read again from the start and the rows up to the checkpoint are
skipped, so every row is applied exactly once and its outcome (id from the request event and the
row number) is written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import structlog
from pydantic import SecretStr

from service.catalog.model import Catalog
from service.config import Settings
from service.dialects.base import Dialect, FileImports, RowReader
from service.errors import ErrorDetail, TransientError
from service.imports.formats import formula_like, read_rows
from service.imports.rows import FormatError, Row, blank
from service.imports.sources import open_source
from service.model import trace
from service.model.contact import ContactRecord
from service.model.envelope import Envelope
from service.model.job import FileFormat, JobState, SourceKind
from service.model.outcome import Status
from service.model.records import Parsed
from service.pipeline import job_events, outcomes
from service.pipeline.nul import reject_nul
from service.pipeline.processor import apply_guarded, refine, settle
from service.runtime import failpoints, metrics
from service.runtime.egress import FetchLimits, SourceError, SourceSpec
from service.sealing import SealError, unseal
from service.store import jobs, keylocks, outbox
from service.store.db import is_conflict, translated
from service.store.file_servers import get_file_server
from service.store.jobs import Job

log = structlog.get_logger(__name__)
FORMULA = "import.formula_cell"
CONFLICT_TRIES = 5  # tries of a step that clashes with another transaction
LONE_SIGNS = frozenset({"-", "+"})  # no formula (the iSales template writes "-" for a value not given)
_FORMATS: dict[str, FileFormat] = {"csv": "csv", "xlsx": "xlsx", "xls": "xls"}


class Stopped(Exception):
    """The job is no longer this replica's to run (cancelled, taken over, or the service stops)."""


class JobFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class JobExecution:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        dialect: Dialect,
        catalog: Catalog,
        job: Job,
        owner: str,
        stopping: asyncio.Event,
        on_commit: Any,
    ) -> None:
        self._s = settings
        self._pool = pool
        self._dialect = dialect
        self._catalog = catalog
        self.job = job
        self._owner = owner
        self._stopping = stopping
        self._on_commit = on_commit
        self._env = Envelope(
            event_id=job.event_id,
            event_source=job.event_source,
            dialect=job.dialect,
            data=None,
            topic=job.event_topic,
            partition=job.event_partition,
            offset=job.event_offset,
            timestamp_ms=job.event_time_ms,
            key=None,
            tenant=job.tenant,
            trace=trace.from_stored(job.trace_context),
        )

    async def run(self) -> None:
        """Run to the end (completed or failed); raises Stopped when the job is no longer ours."""
        try:
            reader = self._reader()
            spec = await self._spec()
            limits = FetchLimits.from_settings(self._s)
            if self.job.total_rows is None:
                await self._count(spec, limits, reader)
            await self._apply_all(spec, limits, reader)
        except SourceError as exc:
            await self.fail(exc.code, exc.message)
        except FormatError as exc:
            where = f" (row {exc.row_number})" if exc.row_number is not None else ""
            await self.fail(exc.code, exc.message + where)
        except JobFailed as exc:
            await self.fail(exc.code, exc.message)
        except SealError as exc:
            await self.fail("import.sealed_credentials", str(exc))

    # -- preparation -------------------------------------------------------------------------
    def _reader(self) -> RowReader:
        if not isinstance(self._dialect, FileImports):
            raise JobFailed("import.unsupported_dialect", f"dialect {self.job.dialect} has no file imports")
        # the job id: where a row came from, for the key of a row the file gives none (importWS)
        options = {**self.job.options, "job_id": self.job.id}
        reader = self._dialect.rows_reader(self.job.tenant, self.job.campaign, options, self._catalog)
        if isinstance(reader, ErrorDetail):
            raise JobFailed(reader.code, reader.message)
        return reader

    async def _spec(self) -> SourceSpec:
        job = self.job
        if job.server_id is not None:
            async with translated(), self._pool.acquire() as conn:
                server = await get_file_server(conn, job.tenant, job.server_id or "", self._s)
            if server is None:
                raise JobFailed("import.server_not_found", f"no file server {job.server_id!r} for this tenant")
            return server.spec(job.file_path or "", job.file_name or "")
        assert job.source_url is not None
        login: dict[str, str | None] = {}
        if job.source_secret is not None:
            login = orjson.loads(unseal(job.source_secret, self._s))
        password = login.get("password")
        kinds: dict[str, SourceKind] = {"http": "http", "ftp": "ftp", "sftp": "sftp"}
        return SourceSpec(
            kind=kinds[job.source_kind],
            url=job.source_url,
            username=login.get("username"),
            password=SecretStr(password) if password else None,
        )

    @asynccontextmanager
    async def _rows(
        self, spec: SourceSpec, limits: FetchLimits, reader: RowReader
    ) -> AsyncIterator[AsyncIterator[tuple[list[str], Row]]]:
        """The file's data rows with the header: the first row that is not blank names the columns,
        data starts after ``reader.header_rows``; more than the job's cap fails the job."""

        async def data(rows: AsyncIterator[Row]) -> AsyncIterator[tuple[list[str], Row]]:
            header: list[str] | None = None
            count = 0
            async for row in rows:
                if header is None:
                    header = row.cells
                    continue
                if row.number <= reader.header_rows or blank(row.cells):
                    continue
                count += 1
                if count > self.job.max_rows:
                    too_many = reader.too_many_rows(self.job.max_rows)
                    raise JobFailed(too_many.code, too_many.message)
                yield header, row

        async with open_source(spec, limits) as chunks:
            fmt = _FORMATS.get(self.job.format, "csv")
            yield data(read_rows(chunks, fmt, spool_dir=self._s.import_spool_dir))

    async def _count(self, spec: SourceSpec, limits: FetchLimits, reader: RowReader) -> None:
        """First run only: count the data rows; a file over the cap is refused before any row is applied."""
        total = 0
        async with self._rows(spec, limits, reader) as rows:
            async for _ in rows:
                if self._stopping.is_set():
                    raise Stopped("the service is stopping")
                total += 1
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            await self._hold(conn)
            await jobs.set_total(conn, self.job.id, total)
        log.info("import file counted", job_id=self.job.id, rows_total=total)

    # -- the rows ----------------------------------------------------------------------------
    async def _apply_all(self, spec: SourceSpec, limits: FetchLimits, reader: RowReader) -> None:
        step = max(1, self._s.import_rows_per_tx)
        pending: list[tuple[int, Parsed]] = []
        async with self._rows(spec, limits, reader) as rows:
            async for header, row in rows:
                if row.number <= self.job.checkpoint:
                    continue  # applied by an earlier run
                pending.append((row.number, self._parse(reader, header, row)))
                if len(pending) >= step:
                    await self._step(pending)
                    pending = []
        await self._step(pending, final=True)

    async def _step(self, items: list[tuple[int, Parsed]], final: bool = False) -> None:
        """One step, tried again at once when it clashed with another transaction (a deadlock: the
        rows are kept and applied in the next try, never lost). Postgres being away is left to the
        runner: the lease runs out and the job resumes from its checkpoint."""
        delay = self._s.retry_initial_s
        for attempt in range(1, CONFLICT_TRIES + 1):
            try:
                return await self._commit(items, final)
            except TransientError as exc:
                if not is_conflict(exc) or attempt == CONFLICT_TRIES:
                    raise
                log.warning(
                    "import step clashed with another transaction; retrying", job_id=self.job.id, error=str(exc)
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._s.retry_max_s)

    def _parse(self, reader: RowReader, header: list[str], row: Row) -> Parsed:
        parsed = reader.parse(header, row.number, row.cells)
        if any("\x00" in c for c in row.cells):
            parsed = reject_nul(None, [parsed])[0]
        parsed = refine(self._s, [parsed], self._catalog)[0]
        flagged = [
            ErrorDetail(
                FORMULA,
                f"/rows/{row.number}/{(header[i] if i < len(header) else str(i)).strip() or i}",
                "the cell starts like a spreadsheet formula (=, +, -, @, tab or CR); stored as text, never evaluated",
            )
            for i, cell in enumerate(row.cells)
            if formula_like(cell) and cell.strip() not in LONE_SIGNS
        ]
        return Parsed(parsed.record, [*parsed.warnings, *flagged]) if flagged else parsed

    async def _commit(self, items: list[tuple[int, Parsed]], final: bool = False) -> None:
        """One step: the rows, their outcomes, the checkpoint, the counters and job events, atomically."""
        if self._stopping.is_set() and not final:
            raise Stopped("the service is stopping")
        records = [p.record for _, p in items if isinstance(p.record, ContactRecord)]
        tallies: dict[str, int] = {}
        failures: list[tuple[int, list[str]]] = []
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            await self._hold(conn)
            await keylocks.take(conn, records, (), self._s.contact_locks_max)  # serialised with the consumer
            applied = iter(await apply_guarded(conn, records, job_id=self.job.id))
            processed_at = outcomes.now_iso()
            messages: list[outbox.OutMessage] = []
            for number, p in items:
                p, a = settle(p, next(applied) if isinstance(p.record, ContactRecord) else None)
                o = outcomes.build(
                    self._dialect, self._env, number, p, a, processed_at, details={"job_id": self.job.id, "row": number}
                )
                tallies[o.status.value] = tallies.get(o.status.value, 0) + 1
                if o.errors:
                    failures.append((number, [e.code for e in o.errors]))
                messages.append(outcomes.to_message(o, self._s.results_topic, self._env))
            failed = tallies.get(Status.FAILED.value, 0)
            before = self.job.rows_read
            job = await jobs.advance(
                conn,
                self.job.id,
                checkpoint=items[-1][0] if items else self.job.checkpoint,
                read=len(items),
                applied=len(items) - failed,
                failed=failed,
                lease_s=self._s.import_lease_s,
            )
            every = max(1, self._s.import_progress_every)
            if job.rows_read // every > before // every and not final:
                messages.append(job_events.message(self._s.jobs_topic, job, "progress"))
            if final:
                job = await jobs.finish(conn, job.id, JobState.COMPLETED)
                messages.append(job_events.message(self._s.jobs_topic, job, "completed"))
            await outbox.add(conn, messages)
        self.job = job
        for status, n in tallies.items():
            metrics.RECORDS.labels(self.job.dialect, status).inc(n)
        if failures:  # one line per step, by row number and error codes only (never the row's values)
            codes = sorted({c for _, cs in failures for c in cs})
            log.info("rows failed", job_id=job.id, count=len(failures), rows=[n for n, _ in failures[:50]], codes=codes)
        if final:
            metrics.IMPORT_JOBS.labels(JobState.COMPLETED.value).inc()
            log.info("import job completed", job_id=job.id, **job.counts())
        failpoints.hit(failpoints.IMPORT_AFTER_COMMIT)
        self._on_commit()

    async def fail(self, code: str, message: str) -> None:
        """Failed, with the error and an event; the rows applied so far stay applied."""
        async with translated(), self._pool.acquire() as conn, conn.transaction():
            await self._hold(conn)
            job = await jobs.finish(conn, self.job.id, JobState.FAILED, (code, message[:1000]))
            await outbox.add(conn, [job_events.message(self._s.jobs_topic, job, "failed")])
        self.job = job
        metrics.IMPORT_JOBS.labels(JobState.FAILED.value).inc()
        log.warning("import job failed", job_id=job.id, code=code, **job.counts())
        self._on_commit()

    async def _hold(self, conn: asyncpg.Connection) -> None:
        state = await jobs.hold(conn, self.job.id, self._owner)
        if state is not JobState.RUNNING:
            raise Stopped(f"job {self.job.id} is no longer ours (state {state})")
