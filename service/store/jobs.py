"""Import jobs in Postgres: create, claim (one replica per due job), checkpoint, finish, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.model.envelope import Envelope
from service.model.job import ImportRequest, JobState

_COLUMNS = (
    "id, tenant, dialect, campaign, state, due_at, source_kind, source_url, source_secret, server_id, file_path,"
    " file_name, format, options, max_rows, total_rows, checkpoint, rows_read, rows_applied, rows_failed,"
    " error_code, error_message, lease_owner, lease_expires_at, attempts, event_source, event_id, event_topic,"
    " event_partition, event_offset, event_time_ms, created_at, started_at, finished_at, due_zone, updated_at,"
    " trace_context"
)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    tenant: str
    dialect: str
    campaign: str
    state: JobState
    due_at: datetime
    source_kind: str
    source_url: str | None
    source_secret: bytes | None
    server_id: str | None
    file_path: str | None
    file_name: str | None
    format: str
    options: dict[str, Any]
    max_rows: int
    total_rows: int | None
    checkpoint: int
    rows_read: int
    rows_applied: int
    rows_failed: int
    error_code: str | None
    error_message: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempts: int
    event_source: str
    event_id: str
    event_topic: str
    event_partition: int
    event_offset: int
    event_time_ms: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    due_zone: str | None = None  # the zone a scheduled request's local time was read in
    updated_at: datetime | None = None  # the last change of its state or counters
    trace_context: str | None = None  # the request's W3C trace context (trace.TraceContext.stored)

    @classmethod
    def of(cls, row: asyncpg.Record) -> Job:
        values = dict(row)
        values["state"] = JobState(values["state"])
        return cls(**values)

    def counts(self) -> dict[str, int | None]:
        return {
            "rows_total": self.total_rows,
            "rows_read": self.rows_read,
            "rows_applied": self.rows_applied,
            "rows_failed": self.rows_failed,
        }

    def location(self) -> str:
        """The file's location without credentials."""
        if self.source_url is not None:
            return self.source_url
        path = "/".join(p for p in ((self.file_path or "").strip("/"), self.file_name or "") if p)
        return f"sftp://{self.server_id}/{path}"

    def public(self) -> dict[str, Any]:
        """The job as the CLI shows it: everything but the sealed credentials and the lease owner."""
        out = {
            k: getattr(self, k) for k in self.__slots__ if k not in {"source_secret", "lease_owner", "trace_context"}
        }
        out["has_credentials"] = self.source_secret is not None
        return out


async def create(
    conn: asyncpg.Connection,
    job_id: str,
    dialect: str,
    req: ImportRequest,
    *,
    sealed: bytes | None,
    due_at: datetime,
    max_rows: int,
    env: Envelope,
    due_zone: str | None = None,
    trace_context: str | None = None,
) -> Job:
    """Store a new job (scheduled); a job that exists already (the same request) is returned as is."""
    row = await conn.fetchrow(
        "INSERT INTO import_jobs (id, tenant, dialect, campaign, due_at, source_kind, source_url, source_secret,"
        " server_id, file_path, file_name, format, options, max_rows, event_source, event_id, event_topic,"
        " event_partition, event_offset, event_time_ms, due_zone, trace_context)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"
        " $22)"
        f" ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}",
        job_id,
        req.tenant,
        dialect,
        req.campaign,
        due_at,
        req.source_kind,
        req.url,
        sealed,
        req.server_id,
        req.file_path,
        req.file_name,
        req.format,
        req.options,
        max_rows,
        env.event_source,
        env.event_id,
        env.topic,
        env.partition,
        env.offset,
        env.timestamp_ms,
        due_zone,
        trace_context,
    )
    if row is None:
        found = await get(conn, job_id)
        assert found is not None
        return found
    return Job.of(row)


async def claim(conn: asyncpg.Connection, owner: str, lease_s: float) -> Job | None:
    """Take one due job: a scheduled one whose time has come, or a running one whose lease expired
    (its replica died). ``SKIP LOCKED``: replicas polling at once never take the same job."""
    row = await conn.fetchrow(
        "UPDATE import_jobs SET state = 'running', lease_owner = $1,"
        " lease_expires_at = now() + make_interval(secs => $2), started_at = coalesce(started_at, now()),"
        " attempts = attempts + 1, updated_at = now()"
        " WHERE id = (SELECT id FROM import_jobs"
        "   WHERE (state = 'scheduled' AND due_at <= now()) OR (state = 'running' AND lease_expires_at < now())"
        "   ORDER BY due_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {_COLUMNS}",
        owner,
        lease_s,
    )
    return Job.of(row) if row is not None else None


async def hold(conn: asyncpg.Connection, job_id: str, owner: str) -> JobState | None:
    """Lock the job's row for this transaction; its state if ``owner`` still holds it, else None."""
    row = await conn.fetchrow("SELECT state, lease_owner FROM import_jobs WHERE id = $1 FOR UPDATE", job_id)
    if row is None or row["lease_owner"] != owner:
        return None
    return JobState(row["state"])


async def advance(
    conn: asyncpg.Connection, job_id: str, *, checkpoint: int, read: int, applied: int, failed: int, lease_s: float
) -> Job:
    """Move the checkpoint and add to the counters (in the transaction that applied the rows)."""
    row = await conn.fetchrow(
        "UPDATE import_jobs SET checkpoint = $2, rows_read = rows_read + $3, rows_applied = rows_applied + $4,"
        " rows_failed = rows_failed + $5, lease_expires_at = now() + make_interval(secs => $6), updated_at = now()"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        job_id,
        checkpoint,
        read,
        applied,
        failed,
        lease_s,
    )
    assert row is not None
    return Job.of(row)


async def set_total(conn: asyncpg.Connection, job_id: str, total: int) -> None:
    await conn.execute("UPDATE import_jobs SET total_rows = $2, updated_at = now() WHERE id = $1", job_id, total)


async def finish(conn: asyncpg.Connection, job_id: str, state: JobState, error: tuple[str, str] | None = None) -> Job:
    """Completed or failed: the lease is given up, the counts stay."""
    row = await conn.fetchrow(
        "UPDATE import_jobs SET state = $2, error_code = $3, error_message = $4, finished_at = now(),"
        f" lease_owner = NULL, lease_expires_at = NULL, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        job_id,
        state.value,
        error[0] if error else None,
        error[1] if error else None,
    )
    assert row is not None
    return Job.of(row)


async def renew(conn: asyncpg.Connection, job_id: str, owner: str, lease_s: float) -> bool:
    """Extend the lease; False when the job is no longer this owner's running job."""
    status: str = await conn.execute(
        "UPDATE import_jobs SET lease_expires_at = now() + make_interval(secs => $3)"
        " WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        job_id,
        owner,
        lease_s,
    )
    return status.endswith(" 1")


async def release(conn: asyncpg.Connection, job_id: str, owner: str) -> None:
    """Give a running job back (shutdown): another replica may take it over at once."""
    await conn.execute(
        "UPDATE import_jobs SET lease_expires_at = now(), updated_at = now()"
        " WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        job_id,
        owner,
    )


async def get(conn: asyncpg.Connection, job_id: str, tenant: str | None = None) -> Job | None:
    """One job; with ``tenant``, only if it is that tenant's."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM import_jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)", job_id, tenant
    )
    return Job.of(row) if row is not None else None


async def find(
    conn: asyncpg.Connection, *, tenant: str | None = None, state: str | None = None, limit: int = 100
) -> list[Job]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM import_jobs WHERE ($1::text IS NULL OR tenant = $1)"
        " AND ($2::text IS NULL OR state = $2) ORDER BY created_at DESC, id LIMIT $3",
        tenant,
        state,
        limit,
    )
    return [Job.of(r) for r in rows]


async def cancel(conn: asyncpg.Connection, job_id: str, tenant: str | None = None) -> Job | None:
    """Cancel a scheduled or running job (a running one stops at its next transaction boundary).

    None when there is no such job (of that tenant); a finished job is returned unchanged."""
    row = await conn.fetchrow(
        "UPDATE import_jobs SET state = 'cancelled', finished_at = now(), lease_owner = NULL,"
        " lease_expires_at = NULL, updated_at = now()"
        " WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND state IN ('scheduled', 'running')"
        f" RETURNING {_COLUMNS}",
        job_id,
        tenant,
    )
    if row is not None:
        return Job.of(row)
    return await get(conn, job_id, tenant)
